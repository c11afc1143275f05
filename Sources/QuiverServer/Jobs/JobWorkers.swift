import Foundation
import Logging
import QuiverCore
import Registry
import ServiceLifecycle
import Synchronization

/// The server's in-process merge workers: each claims a queued job (`Registry.claimJob`), runs it
/// (`Registry.runClaimedJob`) on a blocking executor of its own (so long merges never take threads from requests),
/// and polls again. On graceful shutdown a worker stops claiming and hands its running job back to the queue
/// (`Registry.releaseJob`: queued again without using up the attempt) instead of waiting for the merge, so another
/// worker picks it up; a merge that still finishes here records nothing on the job (its lease is gone).
struct JobWorkers: Service {
    let registry: Registry
    let count: Int
    let leaseSeconds: Int
    let pollSeconds: Double
    let metrics: ServerMetrics
    let logger: Logger
    /// Called after every job this server ran ends (its result is then visible to the server's next read at once).
    let afterJob: @Sendable () -> Void
    private let executor: BlockingExecutor
    private let workerPrefix: String

    init(registry: Registry, count: Int, leaseSeconds: Int, pollSeconds: Double, metrics: ServerMetrics, logger: Logger,
         afterJob: @escaping @Sendable () -> Void = {}) {
        self.afterJob = afterJob
        self.registry = registry
        self.count = count
        self.leaseSeconds = leaseSeconds
        self.pollSeconds = pollSeconds
        self.metrics = metrics
        self.logger = logger
        self.executor = BlockingExecutor(maxThreads: max(1, count), name: "quiver-jobs")
        self.workerPrefix = "\(ProcessInfo.processInfo.hostName):\(getpid()):serve"
    }

    func run() async throws {
        guard count > 0 else { return try await gracefulShutdown() }
        await withDiscardingTaskGroup { group in
            for index in 1...count {
                group.addTask { await work(worker: "\(workerPrefix)-\(index)") }
            }
        }
        executor.shutdown()
    }

    private func work(worker: String) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let claimed: MergeJob?
            do {
                claimed = try await executor.run { [registry, leaseSeconds] in try registry.claimJob(worker: worker, leaseSeconds: leaseSeconds) }
            } catch {
                logger.warning("job claim failed", metadata: ["worker": "\(worker)", "error": "\(error)"])
                claimed = nil
            }
            guard let job = claimed else {
                // Idle: wait for the next poll, or return at once on shutdown.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pollSeconds)) }
                continue
            }
            await run(job, worker: worker)
        }
    }

    /// Runs one claimed job; on graceful shutdown hands it back without waiting for the merge to end.
    private func run(_ job: MergeJob, worker: String) async {
        logger.info("job started", metadata: ["job": "\(job.id)", "worker": "\(worker)", "into": "\(job.request.into)"])
        let started = ContinuousClock.now
        let merge = Task { [registry, executor, leaseSeconds] in
            try await executor.run { try registry.runClaimedJob(job, worker: worker, leaseSeconds: leaseSeconds) }
        }
        // Whichever comes first: the merge's end, or graceful shutdown (the merge is not waited for then).
        let first = FirstOutcome()
        let finished: Result<MergeJob, any Error>? = await withGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<MergeJob, any Error>?, Never>) in
                first.wait(continuation)
                Task { first.resume(await merge.result) }
            }
        } onGracefulShutdown: {
            first.resume(nil)
        }
        switch finished {
        case .success(let done)?:
            metrics.merge(mode: "job", duration: ContinuousClock.now - started)
            logger.info("job finished", metadata: ["job": "\(done.id)", "status": "\(done.status)", "attempts": "\(done.attempts)"])
        case .failure(let error)?:
            logger.error("job could not be recorded", metadata: ["job": "\(job.id)", "error": "\(error)"])
        case nil:
            // Shutting down while the merge runs: give the job back (the merge thread is left to end with the process).
            let registry = self.registry
            let released = (try? await BlockingExecutor.shared.run {
                try registry.releaseJob(id: job.id, worker: worker)
            }) ?? false
            logger.notice("job handed back on shutdown", metadata: ["job": "\(job.id)", "released": "\(released)"])
        }
    }
}

/// A continuation resumed by the first of two parties (the merge's end, graceful shutdown); the later one is
/// ignored. Either may come before the continuation is installed.
private final class FirstOutcome: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Result<MergeJob, any Error>?, Never>)
        case decided(Result<MergeJob, any Error>?)
        case done
    }

    private let state = Mutex(State.idle)

    func wait(_ continuation: CheckedContinuation<Result<MergeJob, any Error>?, Never>) {
        let decided = state.withLock { state -> Result<MergeJob, any Error>?? in
            if case .decided(let outcome) = state {
                state = .done
                return .some(outcome)
            }
            state = .waiting(continuation)
            return .none
        }
        if let decided { continuation.resume(returning: decided) }
    }

    func resume(_ outcome: Result<MergeJob, any Error>?) {
        let waiting = state.withLock { state -> CheckedContinuation<Result<MergeJob, any Error>?, Never>? in
            switch state {
            case .idle:
                state = .decided(outcome)
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .decided, .done:
                return nil
            }
        }
        waiting?.resume(returning: outcome)
    }
}
