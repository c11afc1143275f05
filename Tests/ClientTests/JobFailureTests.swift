import Foundation
import QuiverCore
import Registry
import Testing

/// A failed job's error, rebuilt from its recorded text for a client that waited for it.
@Suite("failed merge jobs")
struct JobFailureTests {
    static func job(status: String, attempts: Int, lastError: String?) throws -> MergeJob {
        var object: [String: Any] = [
            "id": 7, "status": status, "attempts": attempts, "maxAttempts": 3, "requestedBy": "ci",
            "request": ["inputs": ["a", "b"], "into": "c", "request": ["method": "ties", "majority_sign": "total", "seed": 0, "allow_scaling_mismatch": false]],
        ]
        if let lastError { object["lastError"] = lastError }
        return try JSONDecoder().decode(MergeJob.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func aPermanentFailureIsARefusalWithItsCode() throws {
        let job = try Self.job(status: "failed", attempts: 1, lastError: "merge.rank_mismatch: rank differs in q_proj\nhint: use cat or svd")
        let failure = try #require(job.failure)
        #expect(failure.code == "merge.rank_mismatch" && failure.errorKind == .refusal)
        #expect(failure.reason == "merge job 7 failed: rank differs in q_proj" && failure.hint == "use cat or svd")
    }

    @Test func exhaustedAttemptsAreUnavailable() throws {
        let job = try Self.job(status: "failed", attempts: 3, lastError: "lease of w1 expired on the last attempt")
        let failure = try #require(job.failure)
        #expect(failure.code == "registry.job_failed" && failure.errorKind == .unavailable)
    }

    @Test func onlyFailedJobsHaveAFailure() throws {
        #expect(try Self.job(status: "queued", attempts: 0, lastError: nil).failure == nil)
        #expect(try Self.job(status: "succeeded", attempts: 1, lastError: nil).failure == nil)
    }
}
