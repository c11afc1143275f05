import Foundation
import Postgres

/// The merge job queue: rows of `merge_jobs`, claimed by workers with `FOR UPDATE SKIP LOCKED` and leases.
///
/// Lease times are computed from the `now` the caller passes (the registry's clock), so tests move time instead
/// of sleeping; which status a job moves to is decided by the caller (Registry's `JobLifecycle`), and every update
/// is guarded by the lease owner and the running status, so a worker whose lease was taken over changes nothing.
public struct JobQueue: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Queues a job; returns its id.
    public func enqueue(requestJSON: String, maxAttempts: Int, by actor: String) throws -> Int64 {
        try connection.query("""
            INSERT INTO merge_jobs (request, max_attempts, requested_by)
            VALUES (\(PostgresJSON(text: requestJSON)), \(max(1, maxAttempts)), \(actor)) RETURNING id
            """).single().decode(Int64.self, at: 0)
    }

    public func job(id: Int64) throws -> JobRecord? {
        guard let row = try connection.query("""
            SELECT id, request::text, status, attempts, max_attempts, lease_owner, lease_expires_at, last_error,
                result_version_id, requested_by, merge_id FROM merge_jobs WHERE id = \(id)
            """).first else { return nil }
        return JobRecord(
            id: try row.decode(Int64.self, at: 0), requestJSON: try row.decode(String.self, at: 1),
            status: try row.decode(JobStatus.self, at: 2), attempts: try row.decode(Int.self, at: 3),
            maxAttempts: try row.decode(Int.self, at: 4), leaseOwner: try row.decode(String?.self, at: 5),
            leaseExpiresAt: try row.decode(Date?.self, at: 6), lastError: try row.decode(String?.self, at: 7),
            resultVersionID: try row.decode(Int64?.self, at: 8), requestedBy: try row.decode(String.self, at: 9),
            mergeID: try row.decode(Int64?.self, at: 10))
    }

    /// Marks failed every running job whose lease expired before `now` on its last attempt (its worker died and
    /// no attempt is left); returns how many.
    @discardableResult
    public func failAbandoned(now: Date) throws -> Int {
        try connection.query("""
            UPDATE merge_jobs SET status = \(JobStatus.failed), finished_at = now(), updated_at = now(),
                last_error = coalesce(last_error || '; ', '') || 'lease of ' || coalesce(lease_owner, '?') || ' expired on the last attempt'
            WHERE status = \(JobStatus.running) AND lease_expires_at < \(now) AND attempts >= max_attempts
            """).affectedRows
    }

    /// Claims the oldest claimable job — queued, or running with a lease expired before `now` — with attempts
    /// left, for `worker` until `now + leaseSeconds`; returns its id.
    public func claim(worker: String, leaseSeconds: Int, now: Date) throws -> Int64? {
        try connection.query("""
            UPDATE merge_jobs SET status = \(JobStatus.running), attempts = attempts + 1, lease_owner = \(worker),
                lease_expires_at = \(now) + make_interval(secs => \(leaseSeconds)), started_at = coalesce(started_at, now()),
                updated_at = now()
            WHERE id = (
                SELECT id FROM merge_jobs
                WHERE (status = \(JobStatus.queued) OR (status = \(JobStatus.running) AND lease_expires_at < \(now))) AND attempts < max_attempts
                ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING id
            """).first.map { try $0.decode(Int64.self, at: 0) }
    }

    /// Extends `worker`'s lease to `now + leaseSeconds` while it still holds the running job.
    public func renewLease(id: Int64, worker: String, leaseSeconds: Int, now: Date) throws {
        try connection.query("""
            UPDATE merge_jobs SET lease_expires_at = \(now) + make_interval(secs => \(leaseSeconds)), updated_at = now()
            WHERE id = \(id) AND lease_owner = \(worker) AND status = \(JobStatus.running)
            """)
    }

    /// Records success if `worker` still holds the running job; returns whether it did.
    public func succeed(id: Int64, worker: String, resultVersionID: Int64, mergeID: Int64) throws -> Bool {
        try connection.query("""
            UPDATE merge_jobs SET status = \(JobStatus.succeeded), result_version_id = \(resultVersionID), merge_id = \(mergeID),
                finished_at = now(), updated_at = now(), lease_expires_at = NULL
            WHERE id = \(id) AND lease_owner = \(worker) AND status = \(JobStatus.running)
            """).affectedRows == 1
    }

    /// Records a failed attempt if `worker` still holds the running job, moving it to `next` (queued again, or
    /// failed); returns whether it did.
    public func fail(id: Int64, worker: String, message: String, next: JobStatus) throws -> Bool {
        try connection.query("""
            UPDATE merge_jobs SET last_error = \(message), updated_at = now(), lease_expires_at = NULL, status = \(next),
                finished_at = CASE WHEN \(next == .failed) THEN now() END
            WHERE id = \(id) AND lease_owner = \(worker) AND status = \(JobStatus.running)
            """).affectedRows == 1
    }

    /// Hands a running job back to the queue if `worker` still holds it: queued again, lease cleared, and the
    /// attempt it was counted for given back (a worker that shuts down did not fail it). Returns whether it did.
    public func release(id: Int64, worker: String) throws -> Bool {
        try connection.query("""
            UPDATE merge_jobs SET status = \(JobStatus.queued), attempts = greatest(attempts - 1, 0), lease_owner = NULL,
                lease_expires_at = NULL, updated_at = now()
            WHERE id = \(id) AND lease_owner = \(worker) AND status = \(JobStatus.running)
            """).affectedRows == 1
    }
}
