import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A few dedicated threads that run blocking work (libpq calls) for async callers, so Swift's cooperative
/// threads — about two on this machine — never sit inside `PQexecParams`.
public final class BlockingExecutor: Sendable {
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let maxThreads: Int

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var threads = 0
        var idleThreads = 0
        var isShutdown = false
        var threadIDs: Set<UInt> = []
    }

    /// - Parameter threads: how many blocking calls may run at once; threads start lazily.
    public init(threads: Int) {
        maxThreads = max(1, threads)
    }

    /// Runs `work` on one of the executor's threads and resumes with its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        enum Action { case wakeIdle, startThread, queued, detached }
        let action = state.withLock { s -> Action in
            if s.isShutdown { return .detached }
            s.jobs.append(job)
            if s.idleThreads > 0 {
                // Claim the idle thread now so two submits never count on the same one.
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
        case .wakeIdle:
            wakeup.signal()
        case .startThread:
            Thread.detachNewThread { [self] in
                self.state.withLock { _ = $0.threadIDs.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
                self.workLoop()
            }
        case .queued:
            break
        case .detached:
            // Late work after shutdown (it will fail fast on the closed pool) gets a one-off thread.
            Thread.detachNewThread { job() }
        }
    }

    /// True when called from one of this executor's threads (how tests check work left the cooperative pool).
    public var ownsCurrentThread: Bool {
        state.withLock { $0.threadIDs.contains(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
    }

    /// Lets the threads finish queued work and exit; later submissions run on one-off threads.
    public func shutdown() {
        let idle = state.withLock { s -> Int in
            s.isShutdown = true
            let idle = s.idleThreads
            s.idleThreads = 0
            return idle
        }
        for _ in 0..<idle { wakeup.signal() }
    }

    private func workLoop() {
        while true {
            enum Next { case run(@Sendable () -> Void), sleep, exit }
            let next = state.withLock { s -> Next in
                if !s.jobs.isEmpty { return .run(s.jobs.removeFirst()) }
                if s.isShutdown {
                    s.threads -= 1
                    s.threadIDs.remove(UInt(bitPattern: Int(bitPattern: pthread_self())))
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
}
