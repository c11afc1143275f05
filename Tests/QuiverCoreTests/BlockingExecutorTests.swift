import Foundation
import QuiverCore
import Synchronization
import Testing

@Suite("BlockingExecutor")
struct BlockingExecutorTests {
    @Test func runsWorkOnItsOwnThreadsNotTheCallers() async throws {
        let executor = BlockingExecutor(maxThreads: 2, name: "test-blocking")
        defer { executor.shutdown() }
        #expect(executor.threadCount == 0, "threads start lazily")
        #expect(!executor.ownsCurrentThread, "the async caller runs on the cooperative pool, not on the executor")
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<10 {
                group.addTask { try await executor.run { (i * i, executor.ownsCurrentThread) } }
            }
            return try await group.reduce(into: [(Int, Bool)]()) { $0.append($1) }
        }
        #expect(results.map(\.0).sorted() == (0..<10).map { $0 * $0 })
        #expect(results.allSatisfy { $0.1 }, "every job must run on the executor's own threads")
        #expect(!executor.ownsCurrentThread)
        #expect(executor.threadCount <= 2)
    }

    @Test func neverRunsMoreThanMaxThreadsAtOnce() async throws {
        let executor = BlockingExecutor(maxThreads: 3)
        defer { executor.shutdown() }
        final class Gauge: Sendable {
            let running = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
        }
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    try await executor.run {
                        let now = gauge.running.add(1, ordering: .relaxed).newValue
                        _ = gauge.peak.max(now, ordering: .relaxed)
                        usleep(20_000)  // a blocking call: the thread is held, not suspended
                        gauge.running.subtract(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(gauge.peak.load(ordering: .relaxed) <= 3)
        #expect(gauge.peak.load(ordering: .relaxed) >= 2, "blocking jobs overlap on separate threads")
        #expect(executor.threadCount <= 3)
    }

    @Test func errorsPropagateAndWorkAfterShutdownStillRuns() async throws {
        struct Boom: Error {}
        let executor = BlockingExecutor(maxThreads: 1)
        await #expect(throws: Boom.self) { try await executor.run { throw Boom() } }
        executor.shutdown()
        #expect(try await executor.run { 42 } == 42)
        // The idle thread exits once shut down.
        for _ in 0..<200 where executor.threadCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(executor.threadCount == 0)
    }

    @Test func sharedExecutorRunsOffTheCallersThread() async throws {
        #expect(!BlockingExecutor.shared.ownsCurrentThread)
        #expect(try await BlockingExecutor.shared.run { BlockingExecutor.shared.ownsCurrentThread })
        #expect(BlockingExecutor.shared.maxThreads == 8)
    }
}
