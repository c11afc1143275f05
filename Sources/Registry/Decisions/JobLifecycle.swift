import Catalog
import QuiverCore

/// The transitions of a merge job, decided without the database: `JobQueue` writes what these return.
///
/// queued → running (claimed: attempts + 1, a lease) → succeeded, or → queued again after a failed attempt while
/// attempts are left, or → failed. A running job whose lease lapsed (its worker died) is claimable again while
/// attempts are left, and failed once none are.
public enum JobLifecycle {
    /// Whether a worker may claim a job in this state at `now`.
    public static func isClaimable(status: JobStatus, attempts: Int, maxAttempts: Int, leaseExpired: Bool) -> Bool {
        guard attempts < maxAttempts else { return false }
        switch status {
        case .queued: return true
        case .running: return leaseExpired
        case .succeeded, .failed: return false
        }
    }

    /// Where a running job goes when its attempt fails with `error`: a refusal or invalid input fails it at once
    /// or names a missing input (retrying cannot help); anything else is queued again while attempts are left.
    public static func afterFailure(of error: any Error, attempts: Int, maxAttempts: Int) -> JobStatus {
        if isPermanent(error) || attempts >= maxAttempts { return .failed }
        return .queued
    }

    /// What happens to a running job whose lease lapsed: nil while attempts are left (it stays running and is
    /// claimable), `.failed` once none are (`JobQueue.failAbandoned`).
    public static func afterLeaseExpiry(attempts: Int, maxAttempts: Int) -> JobStatus? {
        attempts >= maxAttempts ? .failed : nil
    }

    /// A failure no retry can mend: the engine or the policy refused the merge, its parameters are invalid, or an
    /// input it names does not exist. Only an unavailable service (or an unexpected error) is worth another attempt.
    public static func isPermanent(_ error: any Error) -> Bool {
        guard let named = error as? any NamedError else { return false }
        return [.refusal, .invalidInput, .notFound, .forbidden].contains(named.errorKind)
    }
}
