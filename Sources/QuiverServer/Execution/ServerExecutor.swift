import Foundation
import QuiverCore
import Synchronization

/// The server's one way to run blocking work (libpq and libcurl calls): a dedicated ``BlockingExecutor`` sized to
/// the connection pool, with admission control in front of it.
///
/// Handlers never call the registry or the blob store on an event loop or a cooperative thread; they call
/// ``run(_:)``, which suspends the request while a thread of this executor does the work. When every thread is busy
/// and `maxWaiting` requests already wait for one, a new request is refused at once (`server.overloaded`, 503 with
/// `Retry-After`) instead of joining a queue without bound: a saturated server answers quickly and says so.
public final class ServerExecutor: Sendable {
    /// How many blocking calls run at once (the connection pool's size).
    public let threads: Int
    /// How many calls may wait for a thread before new ones are refused.
    public let maxWaiting: Int
    private let executor: BlockingExecutor
    private let metrics: ServerMetrics?
    /// Calls admitted and not finished: running (at most `threads`) plus waiting.
    private let admitted = Mutex(0)

    /// `metrics` are the catalog executor's (`quiver_executor_*`); the blob transfers' executor has none.
    public init(threads: Int, maxWaiting: Int, metrics: ServerMetrics? = nil, name: String = "quiver-serve") {
        self.threads = max(1, threads)
        self.maxWaiting = max(0, maxWaiting)
        self.executor = BlockingExecutor(maxThreads: self.threads, name: name)
        self.metrics = metrics
    }

    /// Runs `work` on one of the executor's threads, or throws `server.overloaded` without running it when the
    /// queue is full. The wait for a thread is measured (`quiver_executor_wait_seconds`).
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let limit = threads + maxWaiting
        let waiting = admitted.withLock { count -> Int? in
            guard count < limit else { return nil }
            count += 1
            return max(0, count - threads)
        }
        guard let waiting else {
            metrics?.executorRejected()
            throw ServerError.overloaded(retryAfterSeconds: 1)
        }
        metrics?.executorWaiting(waiting)
        defer {
            let now = admitted.withLock { count -> Int in
                count -= 1
                return max(0, count - threads)
            }
            metrics?.executorWaiting(now)
        }
        let submitted = ContinuousClock.now
        let metrics = self.metrics
        return try await executor.run {
            metrics?.executorWait(ContinuousClock.now - submitted)
            return try work()
        }
    }

    /// True when called on one of this executor's threads (tests check that work left the event loops).
    public var ownsCurrentThread: Bool { executor.ownsCurrentThread }

    /// Lets the threads finish queued work and exit.
    public func shutdown() {
        executor.shutdown()
    }
}
