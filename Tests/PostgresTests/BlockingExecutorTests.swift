import Foundation
import Testing
@testable import Postgres

@Suite("BlockingExecutor")
struct BlockingExecutorTests {
    @Test func runsWorkOnItsOwnThreadsAndReturnsResults() async throws {
        let executor = BlockingExecutor(threads: 2)
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<10 {
                group.addTask { try await executor.run { (i * i, executor.ownsCurrentThread) } }
            }
            return try await group.reduce(into: [(Int, Bool)]()) { $0.append($1) }
        }
        #expect(results.map(\.0).sorted() == (0..<10).map { $0 * $0 })
        #expect(results.allSatisfy { $0.1 }, "every job must run on the executor's own threads")
        executor.shutdown()
    }

    @Test func errorsPropagateAndWorkAfterShutdownStillRuns() async throws {
        struct Boom: Error {}
        let executor = BlockingExecutor(threads: 1)
        await #expect(throws: Boom.self) { try await executor.run { throw Boom() } }
        executor.shutdown()
        #expect(try await executor.run { 42 } == 42)
    }
}

