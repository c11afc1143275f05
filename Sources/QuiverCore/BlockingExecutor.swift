import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded set of dedicated threads that run blocking work (libpq calls, libcurl transfers, file copies, fsync)
/// for async callers.
///
/// Swift's cooperative pool has about one thread per core (two on a small machine); a blocking call there stalls
/// every task. Async code hands blocking work to an executor instead and suspends until it is done. Threads are
/// plain OS threads of the executor's own (never the cooperative pool, never an event loop); they start on demand
/// up to `maxThreads` and then stay, waiting for work, until ``shutdown()``. Work beyond `maxThreads` waits in
/// submission order.
///
/// ``shared`` serves the blob stores' async API and one-off callers; a component that must not queue behind
/// unrelated work (the PostgreSQL connection pool, sized to its connections) creates a private executor and
/// shuts it down when it closes.
public final class BlockingExecutor: Sendable {
    /// The executor shared by the async blob-store methods and other one-off blocking calls. Never shut it down.
    public static let shared = BlockingExecutor(maxThreads: 8, name: "quiver-blocking")

    /// The most threads this executor runs at once.
    public let maxThreads: Int
    /// The name its threads carry, for debuggers and `top -H` (best effort; Linux keeps the first 15 bytes).
    public let name: String

    private let state = Mutex(State())
    /// Signalled once per idle thread claimed by a submission (or released by shutdown); idle threads wait on it.
    private let wakeup = DispatchSemaphore(value: 0)

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var threads = 0
        /// Threads waiting on `wakeup` that no submission has claimed yet.
        var idleThreads = 0
        var isShutdown = false
        var threadIDs: Set<UInt> = []
    }

    /// - Parameters:
    ///   - maxThreads: how many blocking calls may run at once (at least 1); threads start lazily.
    ///   - name: the name of the executor's threads.
    public init(maxThreads: Int, name: String = "quiver-blocking") {
        self.maxThreads = max(1, maxThreads)
        self.name = name
    }

    /// Runs `work` on one of the executor's threads and resumes with its result or error.
    ///
    /// The work runs to completion even if the calling task is cancelled: a transfer or statement half done is
    /// not abandoned mid-way (check `Task.isCancelled` before calling if that matters).
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    /// True when called from one of this executor's threads (how tests check that work left the cooperative pool).
    public var ownsCurrentThread: Bool {
        state.withLock { $0.threadIDs.contains(Self.currentThreadID) }
    }

    /// Threads started and not yet exited, for diagnostics and tests.
    public var threadCount: Int { state.withLock { $0.threads } }

    /// Lets the threads finish the queued work and exit. Work submitted afterwards still runs, each job on a
    /// one-off thread of its own (so a late caller, e.g. of a closed connection pool, fails fast instead of
    /// hanging).
    public func shutdown() {
        let idle = state.withLock { s -> Int in
            s.isShutdown = true
            let idle = s.idleThreads
            s.idleThreads = 0
            return idle
        }
        for _ in 0..<idle { wakeup.signal() }
    }

    // MARK: - Threads

    private func submit(_ job: @escaping @Sendable () -> Void) {
        enum Action { case wakeIdle, startThread, queued, oneOff }
        let action = state.withLock { s -> Action in
            if s.isShutdown {
                s.threads += 1
                return .oneOff
            }
            s.jobs.append(job)
            if s.idleThreads > 0 {
                // Claim the idle thread now, so two submissions never count on the same one.
                s.idleThreads -= 1
                return .wakeIdle
            }
            if s.threads < maxThreads {
                s.threads += 1
                return .startThread
            }
            return .queued
        }
        switch action {
        case .wakeIdle: wakeup.signal()
        case .startThread: startThread { [self] in workLoop() }
        case .queued: break
        case .oneOff: startThread { [self] in job(); state.withLock { $0.threads -= 1 } }
        }
    }

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            // Named from inside: on Linux a name set before `start()` does not reach the OS thread. Best effort:
            // corelibs Foundation now and then misses even this, so nothing may depend on the name.
            Thread.current.name = name
            let id = Self.currentThreadID
            state.withLock { _ = $0.threadIDs.insert(id) }
            body()
            state.withLock { _ = $0.threadIDs.remove(id) }
        }
        thread.start()
    }

    private func workLoop() {
        while true {
            enum Next { case run(@Sendable () -> Void), sleep, exit }
            let next = state.withLock { s -> Next in
                if !s.jobs.isEmpty { return .run(s.jobs.removeFirst()) }
                if s.isShutdown {
                    s.threads -= 1
                    return .exit
                }
                s.idleThreads += 1
                return .sleep
            }
            switch next {
            case .run(let job): job()
            case .sleep: wakeup.wait()
            case .exit: return
            }
        }
    }

    private static var currentThreadID: UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }
}
