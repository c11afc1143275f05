import Foundation
#if canImport(Glibc)
import Glibc
#endif
import QuiverCore
import Synchronization
import Testing

@Suite("ParallelMap")
struct ParallelMapTests {
    @Test("results come back in index order", arguments: [1, 2, 3, 8])
    func indexOrder(workers: Int) throws {
        let results = try ParallelMap.run(count: 100, workers: workers) { index in
            if index % 7 == 0 { usleep(500) }  // finish out of order
            return index * 3
        }
        #expect(results == (0..<100).map { $0 * 3 })
    }

    @Test func emptyAndSingle() throws {
        #expect(try ParallelMap.run(count: 0, workers: 4) { $0 }.isEmpty)
        #expect(try ParallelMap.run(count: 1, workers: 4) { $0 + 1 } == [1])
    }

    @Test func runsExactlyTheRequestedWorkersEvenAboveTheCoreCount() throws {
        // Blocking work (network transfers) must get `workers` threads, not one per core: every body waits until
        // all of them are running, which happens only if 6 run at once.
        let arrived = Atomic<Int>(0)
        let seen = try ParallelMap.run(count: 6, workers: 6) { _ -> Int in
            arrived.add(1, ordering: .relaxed)
            let deadline = Date().addingTimeInterval(10)
            while arrived.load(ordering: .relaxed) < 6, Date() < deadline { usleep(1_000) }
            return arrived.load(ordering: .relaxed)
        }
        #expect(seen == Array(repeating: 6, count: 6))
    }

    @Test func neverMoreThanTheRequestedWorkersAndTheCallerIsOne() throws {
        let running = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let caller = UInt(bitPattern: Int(bitPattern: pthread_self()))
        let threads = Mutex(Set<UInt>())
        _ = try ParallelMap.run(count: 30, workers: 3) { index in
            let now = running.add(1, ordering: .relaxed).newValue
            _ = peak.max(now, ordering: .relaxed)
            threads.withLock { _ = $0.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
            usleep(2_000)
            running.subtract(1, ordering: .relaxed)
            return index
        }
        #expect(peak.load(ordering: .relaxed) <= 3)
        #expect(threads.withLock { $0.count } <= 3)
        #expect(threads.withLock { $0.contains(caller) }, "the calling thread works too")
    }

    @Test func lowestFailingIndexWinsAndNoNewIndicesAfterAFailure() throws {
        struct Failed: Error, Equatable { let index: Int }
        let started = Mutex<[Int]>([])
        let error = #expect(throws: Failed.self) {
            _ = try ParallelMap.run(count: 1000, workers: 4) { index -> Int in
                started.withLock { $0.append(index) }
                if index == 5 || index == 9 {
                    usleep(index == 9 ? 1_000 : 20_000)  // 9 fails first in time, 5 later
                    throw Failed(index: index)
                }
                usleep(200)
                return index
            }
        }
        #expect(error == Failed(index: 5))
        #expect(started.withLock { $0.count } < 1000, "indices stop being handed out after a failure")
    }

    @Test func bothRunsTheTwoClosuresAtTheSameTime() throws {
        // Each side waits for the other: this only finishes if they run concurrently.
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        let (a, b) = try ParallelMap.both({ () -> Int in
            first.signal()
            second.wait()
            return 1
        }, { () -> String in
            second.signal()
            first.wait()
            return "two"
        })
        #expect(a == 1)
        #expect(b == "two")
    }

    @Test func alongsideRunsTheBackgroundClosureWhileTheCallerWorks() throws {
        // Each side waits for the other: this only finishes if they run concurrently; `here` runs on the caller.
        let background = DispatchSemaphore(value: 0)
        let here = DispatchSemaphore(value: 0)
        let caller = Thread.current
        var ranOnCaller = false  // not Sendable-safe to share: only `here` touches it, on this thread
        let (a, b) = ParallelMap.alongside({ () -> Int in
            background.signal()
            here.wait()
            return 1
        }, { () -> String in
            ranOnCaller = Thread.current == caller
            here.signal()
            background.wait()
            return "two"
        })
        #expect(try a.get() == 1)
        #expect(try b.get() == "two")
        #expect(ranOnCaller)
    }

    @Test func alongsideKeepsEachSidesOutcomeWhenOneFails() throws {
        struct Failed: Error, Equatable { let side: Int }
        let (a, b) = ParallelMap.alongside({ () -> Int in throw Failed(side: 1) }, { () -> Int in 2 })
        #expect(throws: Failed(side: 1)) { try a.get() }
        #expect(try b.get() == 2)
        let (c, d) = ParallelMap.alongside({ () -> Int in 1 }, { () -> Int in throw Failed(side: 2) })
        #expect(try c.get() == 1)
        #expect(throws: Failed(side: 2)) { try d.get() }
    }

    @Test func bothReportsTheFirstClosuresErrorWhenBothFail() throws {
        struct Failed: Error, Equatable { let side: Int }
        let firstStarted = DispatchSemaphore(value: 0)
        let error = #expect(throws: Failed.self) {
            _ = try ParallelMap.both({ () -> Int in
                firstStarted.signal()
                usleep(20_000)
                throw Failed(side: 1)  // fails last in time, but is reported
            }, { () -> Int in
                firstStarted.wait()
                throw Failed(side: 2)
            })
        }
        #expect(error == Failed(side: 1))
    }

    @Test func bodyMayCaptureANonEscapingClosure() throws {
        func scaled(_ values: [Double], by scale: @Sendable (Double) -> Double) throws -> [Double] {
            try ParallelMap.run(count: values.count, workers: 4) { scale(values[$0]) }
        }
        let values = (0..<50).map { Double($0) / 2 }
        #expect(try scaled(values) { $0 * 2 } == values.map { $0 * 2 })
    }
}
