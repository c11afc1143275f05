import Foundation
import Merge
import Postgres
import QuiverCore

extension Registry {
    /// Queues a merge for a worker; the references are checked now, resolved when the job runs.
    public func enqueueMerge(_ job: MergeJobRequest, maxAttempts: Int = 3) throws -> MergeJob {
        try AdapterRef.validateName(job.into)
        for input in job.inputs { _ = try AdapterRef.parse(input) }
        let json = try PostgresJSON(encoding: job).text
        return try catalog.transaction { tx in
            let id = try tx.jobs.enqueue(requestJSON: json, maxAttempts: maxAttempts, by: actor)
            try audit(tx, action: "job.enqueue", subject: "job:\(id)", details: ["into": job.into, "method": job.request.method.rawValue])
            return try Self.job(tx, id: id)
        }
    }

    /// The job with this id.
    public func job(id: Int64) throws -> MergeJob {
        try catalog.read { try Self.job($0, id: id) }
    }

    static func job(_ session: CatalogSession, id: Int64) throws -> MergeJob {
        guard let record = try session.jobs.job(id: id) else {
            throw RegistryError(.notFound, code: "registry.job_not_found", reason: "there is no merge job \(id)")
        }
        return try MergeJob(record)
    }

    /// Claims the oldest claimable job (`JobLifecycle.isClaimable`: queued, or running with an expired lease — its
    /// worker died) for `worker` with a lease of `leaseSeconds` by this registry's clock. Jobs whose lease expired on
    /// their last attempt are marked failed first.
    public func claimJob(worker: String, leaseSeconds: Int) throws -> MergeJob? {
        let now = clock.now()
        return try catalog.transaction { tx in
            try tx.jobs.failAbandoned(now: now)
            guard let id = try tx.jobs.claim(worker: worker, leaseSeconds: leaseSeconds, now: now) else { return nil }
            try audit(tx, action: "job.claim", subject: "job:\(id)", details: ["worker": worker])
            return try Self.job(tx, id: id)
        }
    }

    /// Runs a claimed job and records the outcome, if `worker` still holds its lease. A failure re-queues the job
    /// until it has used `max_attempts`; a refusal fails it at once (`JobLifecycle.afterFailure`).
    @discardableResult
    public func runClaimedJob(_ job: MergeJob, worker: String, leaseSeconds: Int = 60) throws -> MergeJob {
        do {
            // The merge is recorded as the requester's, not the worker's; the lease is renewed while it runs.
            let onBehalf = acting(as: job.requestedBy)
            let renewal = LeaseRenewal(catalog: catalog, clock: clock, jobID: job.id, worker: worker, leaseSeconds: leaseSeconds)
            defer { renewal.stop() }
            let outcome = try onBehalf.merge(
                inputs: try job.request.inputs.map(AdapterRef.parse), into: job.request.into, request: job.request.request)
            try catalog.transaction { tx in
                if try tx.jobs.succeed(id: job.id, worker: worker, resultVersionID: outcome.version.id, mergeID: outcome.mergeID) {
                    try audit(tx, action: "job.succeed", subject: "job:\(job.id)", details: ["worker": worker, "version": outcome.version.label])
                }
            }
        } catch {
            let message = (error as? any NamedError)?.description ?? String(describing: error)
            let next = JobLifecycle.afterFailure(of: error, attempts: job.attempts, maxAttempts: job.maxAttempts)
            try catalog.transaction { tx in
                _ = try tx.jobs.fail(id: job.id, worker: worker, message: message, next: next)
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

    /// Hands a claimed job back to the queue without using up its attempt (a server or worker shutting down while
    /// the job runs), if `worker` still holds its lease; audited. Returns whether the job was released. A merge
    /// that still finishes afterwards records nothing on the job (every update is guarded by the lease owner), and
    /// the next claim re-runs it to the same result (merge identity).
    @discardableResult
    public func releaseJob(id: Int64, worker: String) throws -> Bool {
        try catalog.transaction { tx in
            guard try tx.jobs.release(id: id, worker: worker) else { return false }
            try audit(tx, action: "job.release", subject: "job:\(id)", details: ["worker": worker])
            return true
        }
    }
}
