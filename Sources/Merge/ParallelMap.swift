import Dispatch
import Foundation
import Synchronization

/// Runs `body` for indices 0..<count on a bounded number of workers that pull the next index from a shared
/// counter; results are stored by index, so their order never depends on scheduling.
enum ParallelMap {
    static var activeCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    static func run<T: Sendable>(count: Int, threads: Int?, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let state = State<T>(count: count)
        let workers = max(1, min(threads ?? activeCores, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = state.next.add(1, ordering: .relaxed).oldValue
                if index >= count || state.failed.load(ordering: .relaxed) { return }
                do {
                    let value = try body(index)
                    state.results.withLock { $0[index] = value }
                } catch {
                    state.fail(index: index, error: error)
                }
            }
        }
        if let (_, error) = state.firstError.withLock({ $0 }) { throw error }
        return try state.results.withLock { results in
            try results.map { value in
                guard let value else { throw MergeError(.linearAlgebra, "a module was not processed") }
                return value
            }
        }
    }

    /// Shared state of one run's workers.
    private final class State<T: Sendable>: Sendable {
        let next = Atomic<Int>(0)
        let failed = Atomic<Bool>(false)
        let results: Mutex<[T?]>
        /// The failure of the lowest-numbered index seen, so the reported error is stable.
        let firstError = Mutex<(Int, any Error)?>(nil)

        init(count: Int) {
            results = Mutex(Array(repeating: nil, count: count))
        }

        func fail(index: Int, error: any Error) {
            firstError.withLock { current in
                if let existing = current, existing.0 <= index { return }
                current = (index, error)
            }
            failed.store(true, ordering: .relaxed)
        }
    }
}
