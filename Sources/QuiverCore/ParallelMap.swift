import Dispatch
import Foundation
import Synchronization

/// Runs `body(i)` for every index in `0..<count` on a bounded number of workers and returns the results in index
/// order, so the output never depends on scheduling.
///
/// Workers are the calling thread plus `workers - 1` short-lived helper threads of their own (never Swift's
/// cooperative pool, never a ``BlockingExecutor``, whose bounded threads could all be waiting here for helpers
/// queued behind them). Each worker pulls the next index from a shared counter. The first failure stops the
/// handing out of new indices; bodies already running finish, and of all the indices that failed the lowest one's
/// error is thrown, so the reported error does not depend on timing either.
///
/// The call blocks until every worker is done: call it from a thread that may block (a ``BlockingExecutor``
/// thread, a command's main thread), never from async code directly.
public enum ParallelMap {
    /// The default worker count: the cores this process may use.
    public static var activeCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// A result slot stayed empty although no body failed: a bug here, never the caller's input.
    public struct MissingResult: NamedError {
        public let index: Int
        public var code: String { "parallel.missing_result" }
        public var reason: String { "index \(index) of a parallel map was never processed" }
        public var hint: String { "" }
        public var errorKind: ErrorKind { .internal }
    }

    /// - Parameters:
    ///   - count: how many indices to process.
    ///   - workers: the most bodies running at once (clamped to 1...count); nil means ``activeCores``.
    ///   - body: the work for one index; runs on several threads at once.
    /// - Returns: `body(0)`, `body(1)`, … in index order.
    public static func run<T: Sendable>(
        count: Int, workers: Int? = nil, _ body: @Sendable (Int) throws -> T
    ) throws -> [T] {
        guard count > 0 else { return [] }
        let workers = max(1, min(workers ?? activeCores, count))
        if workers == 1 { return try (0..<count).map(body) }
        return try withoutActuallyEscaping(body) { body in
            let run = Run<T>(count: count, body: body)
            let finished = DispatchSemaphore(value: 0)
            for _ in 1..<workers {
                Thread {
                    Thread.current.name = "quiver-parallel"
                    run.work()
                    finished.signal()
                }.start()
            }
            run.work()
            for _ in 1..<workers { finished.wait() }
            // A helper's Thread object may outlive this call for a moment; it must not keep `body` alive.
            run.releaseBody()
            return try run.results()
        }
    }

    /// Runs `background` on a helper thread while `here` runs on the calling thread (which may capture what is not
    /// `Sendable`), and returns both outcomes once both are done; neither stops the other.
    public static func alongside<A: Sendable, B>(
        _ background: @escaping @Sendable () throws -> A, _ here: () throws -> B
    ) -> (background: Result<A, any Error>, here: Result<B, any Error>) {
        let outcome = Mutex<Result<A, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            Thread.current.name = "quiver-parallel"
            let result = Result { try background() }
            outcome.withLock { $0 = result }
            finished.signal()
        }.start()
        let local = Result { try here() }
        finished.wait()
        return (outcome.withLock { $0 }!, local)
    }

    /// Runs `first` and `second` at the same time, each on a worker of its own, and returns both results.
    ///
    /// Built on ``run(count:workers:_:)``: when one fails before the other has started, the other is not started;
    /// when both fail, `first`'s error is thrown. Neither is interrupted by the other's failure: code that must
    /// stop early checks a flag of its own.
    public static func both<A: Sendable, B: Sendable>(
        _ first: @Sendable () throws -> A, _ second: @Sendable () throws -> B
    ) throws -> (A, B) {
        let results = try run(count: 2, workers: 2) { index -> Either<A, B> in
            index == 0 ? .first(try first()) : .second(try second())
        }
        guard case .first(let a) = results[0] else { throw MissingResult(index: 0) }
        guard case .second(let b) = results[1] else { throw MissingResult(index: 1) }
        return (a, b)
    }

    private enum Either<A: Sendable, B: Sendable>: Sendable {
        case first(A)
        case second(B)
    }

    /// The shared state of one run's workers.
    private final class Run<T: Sendable>: Sendable {
        private let count: Int
        private let next = Atomic<Int>(0)
        private let failed = Atomic<Bool>(false)
        private let body: Mutex<(@Sendable (Int) throws -> T)?>
        private let slots: Mutex<[T?]>
        /// The failure of the lowest index seen so far.
        private let firstError = Mutex<(index: Int, error: any Error)?>(nil)

        init(count: Int, body: @escaping @Sendable (Int) throws -> T) {
            self.count = count
            self.body = Mutex(body)
            slots = Mutex(Array(repeating: nil, count: count))
        }

        /// One worker's loop: take the next index until none is left or some index failed.
        func work() {
            guard let body = body.withLock({ $0 }) else { return }
            while !failed.load(ordering: .acquiring) {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                do {
                    let value = try body(index)
                    slots.withLock { $0[index] = value }
                } catch {
                    fail(index: index, error: error)
                }
            }
        }

        func releaseBody() { body.withLock { $0 = nil } }

        func results() throws -> [T] {
            if let (_, error) = firstError.withLock({ $0 }) { throw error }
            return try slots.withLock { slots in
                try slots.enumerated().map { index, value in
                    guard let value else { throw MissingResult(index: index) }
                    return value
                }
            }
        }

        private func fail(index: Int, error: any Error) {
            firstError.withLock { current in
                if let existing = current, existing.index <= index { return }
                current = (index, error)
            }
            failed.store(true, ordering: .releasing)
        }
    }
}
