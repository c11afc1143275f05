import CLibPQ
import Foundation
import Synchronization

/// How a thread waits for the server's reply to a statement it sent: asleep in the kernel (the default), or first
/// polling the socket for a bounded time, then asleep.
///
/// On a virtual machine, a vCPU with nothing to run halts, and the hypervisor must wake it when the reply lands:
/// measured on these 2-core machines, an audit's p50 fell from 1.01–1.07 to 0.82–1.02 ms and its p99 from
/// 1.53–1.67 to 1.38–1.44 ms with a spin of up to 2 ms (`QuiverBench audit-catalog`, three alternating pairs; it
/// times the audit both ways in each run). The price is the CPU the waiting thread burns (in those runs 78 % of
/// both cores busy, against 50 %), so the spin is for a process that runs one command and waits for each answer
/// in turn (the CLI), not for a server answering many requests at once, and at most one thread of the process
/// spins at a time: any other waits asleep, as it would without the spin.
public enum ReplyWait {
    /// The limit for a process that runs one command (the CLI, and the benchmark that times it): longer than the
    /// catalog's usual statements take (an audit's is about 0.4 ms), short enough that a slow one wastes little.
    public static let oneShotCommandLimit: Duration = .milliseconds(2)

    /// Up to how long, in nanoseconds, a waiting thread polls before it sleeps; 0 sleeps at once.
    private static let spinNanoseconds = Atomic<UInt64>(0)
    /// True while a thread is spinning: the one thread allowed to.
    private static let spinning = Atomic<Bool>(false)

    /// Polls for each reply for up to `limit` before sleeping; `.zero` (the default) sleeps at once. For the whole
    /// process: every connection's statements wait this way from then on.
    public static func spin(upTo limit: Duration) {
        let (seconds, attoseconds) = limit.components
        let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        spinNanoseconds.store(UInt64(clamping: nanoseconds), ordering: .relaxed)
    }

    /// The current limit (`.zero`: no spin).
    public static var spinLimit: Duration { .nanoseconds(Int64(clamping: spinNanoseconds.load(ordering: .relaxed))) }

    /// The result of the statement just sent on `conn` (`PQsend…`), as `PQexec…` would return it: the last result
    /// the server sent for it, or nil when there was none (the connection's error message says why).
    static func result(of conn: OpaquePointer) -> OpaquePointer? {
        let limit = spinNanoseconds.load(ordering: .relaxed)
        if limit > 0, PQisBusy(conn) == 1, spinning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            // PQconsumeInput reads what has arrived without waiting (libpq's socket is non-blocking); a failure
            // (the connection lost) ends the spin, and PQgetResult reports it.
            let deadline = DispatchTime.now().uptimeNanoseconds &+ limit
            while PQisBusy(conn) == 1, PQconsumeInput(conn) == 1, DispatchTime.now().uptimeNanoseconds < deadline {}
            spinning.store(false, ordering: .releasing)
        }
        // As PQexec ends its wait: at the last result, or at one that starts a copy or finds the connection lost
        // (after those PQgetResult would not return nil).
        var last: OpaquePointer?
        while let next = PQgetResult(conn) {
            if let previous = last { PQclear(previous) }
            last = next
            let status = PQresultStatus(next)
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH || PQstatus(conn) == CONNECTION_BAD { break }
        }
        return last
    }
}
