import Foundation
import Merge
import QuiverCore

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
    /// The merge recorded for the result, once the job succeeded (absent from an older server's answers).
    public let mergeID: Int64?

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
        mergeID = record.mergeID
    }

    /// Whether the job will change no more: succeeded or failed.
    public var isFinished: Bool { status == .succeeded || status == .failed }

    /// The error a failed job ended with, rebuilt from ``lastError`` (a named error's `code: reason`, then
    /// `hint: …`); nil unless the job failed.
    ///
    /// The kind is not recorded, so it follows from how the job failed (``JobLifecycle``): before using up its
    /// attempts means a permanent failure (a refusal, invalid parameters), reported as `refusal`; after every
    /// attempt failed, a service that stayed away (or a worker that kept dying), reported as `unavailable`.
    public var failure: RegistryError? {
        guard status == .failed else { return nil }
        let kind: ErrorKind = attempts < maxAttempts ? .refusal : .unavailable
        let text = lastError ?? ""
        let parts = text.components(separatedBy: "\nhint: ")
        let head = parts[0], hint = parts.dropFirst().joined(separator: "\nhint: ")
        if let colon = head.range(of: ": "), Self.isCode(head[..<colon.lowerBound]) {
            return RegistryError(kind, code: String(head[..<colon.lowerBound]),
                                 reason: "merge job \(id) failed: " + head[colon.upperBound...], hint: hint)
        }
        return RegistryError(
            kind, code: "registry.job_failed",
            reason: "merge job \(id) failed after \(attempts) attempt(s)" + (text.isEmpty ? "" : ": \(text)"),
            hint: "'quiver job show \(id)' shows the job")
    }

    private static func isCode(_ text: Substring) -> Bool {
        text.contains(".") && !text.isEmpty && text.count <= 80
            && text.unicodeScalars.allSatisfy { ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) || "._".unicodeScalars.contains($0) }
    }
}
