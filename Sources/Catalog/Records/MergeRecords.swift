import Foundation
import QuiverCore

/// One recorded merge, as an audit shows it.
public struct MergeRecord: Sendable, Codable {
    public let id: Int64
    /// The output version's label.
    public let output: String
    public let method: String
    /// The resolved merge request (every parameter), as JSON.
    public let params: String
    public let seed: Int64?
    public let softwareVersion: String
    /// Input labels, in merge order.
    public let inputs: [String]
    public let inputDigests: [String]
    public let weights: [Double]
    public let requestedBy: String
    public let at: Date
}

/// A merge about to be recorded with its output version.
public struct NewMerge: Sendable {
    public var method: String
    /// The resolved request as JSON (every parameter).
    public var params: String
    public var seed: UInt64
    public var softwareVersion: String
    /// The inputs, in merge order, with their weights.
    public var inputs: [(versionID: Int64, canonicalDigest: SHA256Digest, weight: Double)]
    public var outputVersionID: Int64
    public var requestDigest: SHA256Digest
    public var requestedBy: String

    public init(method: String, params: String, seed: UInt64, softwareVersion: String,
                inputs: [(versionID: Int64, canonicalDigest: SHA256Digest, weight: Double)], outputVersionID: Int64,
                requestDigest: SHA256Digest, requestedBy: String) {
        self.method = method
        self.params = params
        self.seed = seed
        self.softwareVersion = softwareVersion
        self.inputs = inputs
        self.outputVersionID = outputVersionID
        self.requestDigest = requestDigest
        self.requestedBy = requestedBy
    }

    /// One lineage edge per distinct parent, weights of an input given twice summed, in first-seen order; an
    /// input that is the output itself (a merge reproducing one of its inputs) gets no edge.
    public var lineageEdges: [(parentID: Int64, weight: Double)] {
        var summed: [(parentID: Int64, weight: Double)] = []
        for input in inputs {
            if let index = summed.firstIndex(where: { $0.parentID == input.versionID }) {
                summed[index].weight += input.weight
            } else {
                summed.append((input.versionID, input.weight))
            }
        }
        return summed.filter { $0.parentID != outputVersionID }
    }
}

/// The first merge recorded for an output version, as `verify` re-runs it.
public struct RecordedMerge: Sendable {
    public let id: Int64
    public let params: String
    public let inputVersionIDs: [Int64]
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

/// A row of `merge_jobs`; the request is the JSON the queue was given.
public struct JobRecord: Sendable {
    public let id: Int64
    public let requestJSON: String
    public let status: JobStatus
    public let attempts: Int
    public let maxAttempts: Int
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
    public let lastError: String?
    public let resultVersionID: Int64?
    public let requestedBy: String
    /// The merge recorded for the result, once the job succeeded.
    public let mergeID: Int64?
}
