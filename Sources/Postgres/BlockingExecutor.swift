import Foundation
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
        enum Action { case wakeIdle, startThread, queued }
        let action = state.withLock { s -> Action in
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
            let thread = Thread { [self] in self.workLoop() }
            thread.name = "quiver-blocking"
            thread.start()
        case .queued:
            break
        }
    }

    private func workLoop() {
        while true {
            let job = state.withLock { s -> (@Sendable () -> Void)? in
                if s.jobs.isEmpty {
                    s.idleThreads += 1
                    return nil
                }
                return s.jobs.removeFirst()
            }
            if let job {
                job()
                continue
            }
            wakeup.wait()
        }
    }
}
