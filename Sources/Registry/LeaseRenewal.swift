import Dispatch
import QuiverCore

/// Extends a claimed job's lease every third of the lease while the job runs, so a long merge keeps its claim
/// and only a dead worker's job (no renewals) becomes claimable again.
final class LeaseRenewal {
    private let timer: any DispatchSourceTimer
    private var stopped = false

    init(catalog: Catalog, clock: any WallClock, jobID: Int64, worker: String, leaseSeconds: Int) {
        let interval = max(1, leaseSeconds / 3)
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "quiver.lease-renewal"))
        timer.schedule(deadline: .now() + .seconds(interval), repeating: .seconds(interval))
        timer.setEventHandler {
            // A failed renewal is not fatal: the lease may lapse and another worker may take over, which the
            // finishing update (guarded by the lease owner) detects.
            _ = try? catalog.read(reconnectPatience: .zero) { try $0.jobs.renewLease(id: jobID, worker: worker, leaseSeconds: leaseSeconds, now: clock.now()) }
        }
        timer.resume()
    }

    /// Stops renewing; called once, by the thread that started the job.
    func stop() {
        if !stopped { timer.cancel() }
        stopped = true
    }

    deinit { stop() }
}
