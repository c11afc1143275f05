import Foundation
import Merge

/// A queued merge: what to merge, into which name, asked by whom.
public struct MergeJobRequest: Sendable, Codable, Equatable {
    /// Input references as written (`NAME`, `NAME@3`, `NAME@alias`, sha256).
    public var inputs: [String]
    public var into: String
    public var request: MergeRequest

    public init(inputs: [String], into: String, request: MergeRequest) {
        self.inputs = inputs
        self.into = into
        self.request = request
    }
}

/// A merge job as the queue holds it.
public struct MergeJob: Sendable, Codable, Equatable {
    public let id: Int64
    public let request: MergeJobRequest
    public let status: JobStatus
    public let attempts: Int
    public let maxAttempts: Int
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
    public let lastError: String?
    public let resultVersionID: Int64?
    public let requestedBy: String

    init(_ record: JobRecord) throws {
        id = record.id
        request = try JSONDecoder().decode(MergeJobRequest.self, from: Data(record.requestJSON.utf8))
        status = record.status
        attempts = record.attempts
        maxAttempts = record.maxAttempts
        leaseOwner = record.leaseOwner
        leaseExpiresAt = record.leaseExpiresAt
        lastError = record.lastError
        resultVersionID = record.resultVersionID
        requestedBy = record.requestedBy
    }
}
