import Foundation

/// The answer to "what produced this adapter?": its lineage, the trained roots, every merge and the alias history.
public struct AuditReport: Sendable, Codable {
    /// A trained adapter at a root of the lineage.
    public struct Root: Sendable, Codable {
        public let version: AdapterVersion
        /// The `adapter_config.json` as registered.
        public let config: String
    }

    /// One merge on the path to the subject.
    public struct MergeRecord: Sendable, Codable {
        public let id: Int64
        public let output: String
        public let method: String
        /// The resolved merge request (every parameter), as JSON.
        public let params: String
        public let seed: Int64?
        public let softwareVersion: String
        public let inputs: [String]
        public let inputDigests: [String]
        public let weights: [Double]
        public let requestedBy: String
        public let at: Date
    }

    /// One alias move.
    public struct AliasEvent: Sendable, Codable {
        public let adapter: String
        public let alias: String
        public let previous: String?
        public let version: String
        public let forced: Bool
        public let setBy: String
        public let at: Date
    }

    /// What the audit was asked about (a reference, a digest, or a file and its digest).
    public let query: String
    public let subject: AdapterVersion
    public let lineage: LineageGraph
    public let roots: [Root]
    public let merges: [MergeRecord]
    public let aliasHistory: [AliasEvent]
}
