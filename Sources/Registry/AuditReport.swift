import Catalog
import Foundation

/// The answer to "what produced this adapter?": its lineage, the trained roots, every merge and the alias history.
public struct AuditReport: Sendable, Codable {
    /// A trained adapter at a root of the lineage.
    /// A trained root with its `adapter_config.json` as registered (the catalog's record).
    public typealias Root = AuditRecords.Root

    /// What the audit was asked about (a reference, a digest, or a file and its digest).
    public let query: String
    public let subject: AdapterVersion
    public let lineage: LineageGraph
    public let roots: [Root]
    public let merges: [MergeRecord]
    public let aliasHistory: [AliasEvent]

    /// The same report, saying it was asked about `query` (a client that hashed a file names the file).
    public func relabeled(_ query: String) -> AuditReport {
        AuditReport(query: query, subject: subject, lineage: lineage, roots: roots, merges: merges, aliasHistory: aliasHistory)
    }
}
