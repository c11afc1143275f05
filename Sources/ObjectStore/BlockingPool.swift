import Foundation

/// A small set of dedicated threads for blocking I/O (libcurl transfers, file copies, fsync).
///
/// Swift's cooperative pool has about one thread per core (two here); a blocking call there stalls every task.
/// Async code hands blocking work to this pool instead and suspends until it is done. Threads start on demand up
/// to `maxThreads` and then stay, waiting for work.
public final class BlockingPool: Sendable {
    /// The pool the `async` blob-store methods use.
    public static let shared = BlockingPool(maxThreads: 8)

    private let queue: JobQueue
    public let maxThreads: Int

    public init(maxThreads: Int) {
        self.maxThreads = max(1, maxThreads)
        queue = JobQueue()
    }

    /// Runs `body` on a pool thread and returns its result. The body runs to completion even if the calling task
    /// is cancelled (a transfer half done is not abandoned mid-way).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let startThread = queue.push({ continuation.resume(with: Result { try body() }) }, maxThreads: maxThreads)
            if startThread {
                let thread = Thread { [queue] in queue.serve() }
                thread.name = "quiver-blocking-io"
                thread.start()
            }
        }
    }
}

/// The pool's job list and thread accounting.
///
/// `@unchecked Sendable`: every stored property is read and written only while `condition` is locked (push and
/// serve take the lock first), so concurrent threads never race on them.
private final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var threads = 0
    private var idle = 0

    /// Queues a job; returns true when the caller should start one more thread for it.
    func push(_ job: @escaping @Sendable () -> Void, maxThreads: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        if idle > 0 {
            condition.signal()
            return false
        }
        guard threads < maxThreads else { return false }
        threads += 1
        return true
    }

    /// The loop each pool thread runs forever.
    func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
