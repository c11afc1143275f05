import Foundation
import Merge
import Postgres
import QuiverCore

extension Registry {
    /// Queues a merge for a worker; the references are checked now, resolved when the job runs.
    public func enqueueMerge(_ job: MergeJobRequest, maxAttempts: Int = 3) throws -> MergeJob {
        try AdapterRef.validateName(job.into)
        for input in job.inputs { _ = try AdapterRef.parse(input) }
        let json = try PostgresJSON(encoding: job)
        return try pool.transaction { tx in
            let id = try tx.query("""
                INSERT INTO merge_jobs (request, max_attempts, requested_by) VALUES (\(json), \(max(1, maxAttempts)), \(actor)) RETURNING id
                """).single().decode(Int64.self, at: 0)
            try audit(tx, action: "job.enqueue", subject: "job:\(id)", details: ["into": job.into, "method": job.request.method.rawValue])
            return try Self.job(tx, id: id)
        }
    }

    /// The job with this id.
    public func job(id: Int64) throws -> MergeJob {
        try pool.withConnection { try Self.job($0, id: id) }
    }

    static func job(_ connection: PostgresConnection, id: Int64) throws -> MergeJob {
        guard let row = try connection.query("""
            SELECT id, request::text, status, attempts, max_attempts, lease_owner, lease_expires_at, last_error,
                result_version_id, requested_by FROM merge_jobs WHERE id = \(id)
            """).first else {
            throw RegistryError(.notFound, code: "registry.job_not_found", reason: "there is no merge job \(id)")
        }
        return MergeJob(
            id: try row.decode(Int64.self, at: 0),
            request: try JSONDecoder().decode(MergeJobRequest.self, from: Data(try row.decode(String.self, at: 1).utf8)),
            status: try row.decode(String.self, at: 2), attempts: try row.decode(Int.self, at: 3),
            maxAttempts: try row.decode(Int.self, at: 4), leaseOwner: try row.decode(String?.self, at: 5),
            leaseExpiresAt: try row.decode(Date?.self, at: 6), lastError: try row.decode(String?.self, at: 7),
            resultVersionID: try row.decode(Int64?.self, at: 8), requestedBy: try row.decode(String.self, at: 9))
    }

    /// Claims the oldest claimable job — queued, or running with an expired lease (its worker died) — for
    /// `worker` with a lease of `leaseSeconds`. Jobs whose lease expired on their last attempt are marked failed.
    public func claimJob(worker: String, leaseSeconds: Int) throws -> MergeJob? {
        try pool.transaction { tx in
            try tx.query("""
                UPDATE merge_jobs SET status = 'failed', finished_at = now(), updated_at = now(),
                    last_error = coalesce(last_error || '; ', '') || 'lease of ' || coalesce(lease_owner, '?') || ' expired on the last attempt'
                WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                """)
            guard let row = try tx.query("""
                UPDATE merge_jobs SET status = 'running', attempts = attempts + 1, lease_owner = \(worker),
                    lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), started_at = coalesce(started_at, now()),
                    updated_at = now()
                WHERE id = (
                    SELECT id FROM merge_jobs
                    WHERE (status = 'queued' OR (status = 'running' AND lease_expires_at < now())) AND attempts < max_attempts
                    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING id
                """).first else { return nil }
            let id = try row.decode(Int64.self, at: 0)
            try audit(tx, action: "job.claim", subject: "job:\(id)", details: ["worker": worker])
            return try Self.job(tx, id: id)
        }
    }

    /// Runs a claimed job and records the outcome, if `worker` still holds its lease. A failure re-queues the job
    /// until it has used `max_attempts`; a merge refusal fails it at once (retrying cannot help).
    @discardableResult
    public func runClaimedJob(_ job: MergeJob, worker: String, leaseSeconds: Int = 60) throws -> MergeJob {
        do {
            // The merge is recorded as the requester's, not the worker's; the lease is renewed while it runs.
            let onBehalf = Registry(pool: pool, blobs: blobs, actor: job.requestedBy)
            let renewal = LeaseRenewal(pool: pool, jobID: job.id, worker: worker, leaseSeconds: leaseSeconds)
            defer { renewal.stop() }
            let outcome = try onBehalf.merge(
                inputs: try job.request.inputs.map(AdapterRef.parse), into: job.request.into, request: job.request.request)
            try pool.transaction { tx in
                let updated = try tx.query("""
                    UPDATE merge_jobs SET status = 'succeeded', result_version_id = \(outcome.version.id), merge_id = \(outcome.mergeID),
                        finished_at = now(), updated_at = now(), lease_expires_at = NULL
                    WHERE id = \(job.id) AND lease_owner = \(worker) AND status = 'running'
                    """)
                if updated.affectedRows == 1 {
                    try audit(tx, action: "job.succeed", subject: "job:\(job.id)", details: ["worker": worker, "version": outcome.version.label])
                }
            }
        } catch {
            let permanent = error is MergeError || (error as? RegistryError)?.code.hasPrefix("registry.policy") == true
            let message = (error as? any NamedError)?.description ?? String(describing: error)
            try pool.transaction { tx in
                try tx.query("""
                    UPDATE merge_jobs SET last_error = \(message), updated_at = now(), lease_expires_at = NULL,
                        status = CASE WHEN \(permanent) OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                        finished_at = CASE WHEN \(permanent) OR attempts >= max_attempts THEN now() END
                    WHERE id = \(job.id) AND lease_owner = \(worker) AND status = 'running'
                    """)
                try audit(tx, action: "job.fail", subject: "job:\(job.id)", details: ["worker": worker, "error": message])
            }
        }
        return try self.job(id: job.id)
    }

    /// Claims and runs one job; nil when none was claimable.
    public func runOneJob(worker: String, leaseSeconds: Int) throws -> MergeJob? {
        guard let job = try claimJob(worker: worker, leaseSeconds: leaseSeconds) else { return nil }
        return try runClaimedJob(job, worker: worker, leaseSeconds: leaseSeconds)
    }
}
