import Foundation
import Synchronization

/// Bounds the bytes of workspace held by modules in flight, so peak memory does not grow with the number of
/// workers (a dense 11008×4096 delta is 180 MB; 64 workers holding one each would need 11 GB).
///
/// A module waits until its cost fits beside those in flight; one that exceeds the whole budget runs alone,
/// so every module eventually runs.
final class WorkspaceBudget: Sendable {
    let limit: Int
    /// Bytes held by modules in flight, and how many are in flight.
    private let state = Mutex<(held: Int, inFlight: Int)>((0, 0))
    /// Waiters check `state` while holding this lock and releasers broadcast under it, so no wake-up is lost.
    private let wakeUp = NSCondition()

    init(limit: Int) { self.limit = max(0, limit) }

    /// Blocks until `bytes` fit (or nothing else is in flight), then holds them.
    func acquire(_ bytes: Int) {
        wakeUp.lock()
        defer { wakeUp.unlock() }
        while !tryAcquire(bytes) { wakeUp.wait() }
    }

    private func tryAcquire(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard state.inFlight == 0 || state.held + bytes <= limit else { return false }
            state.held += bytes
            state.inFlight += 1
            return true
        }
    }

    func release(_ bytes: Int) {
        state.withLock { state in
            state.held -= bytes
            state.inFlight -= 1
        }
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
    }

    /// Runs `body` holding `bytes`.
    func withBytes<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        acquire(bytes)
        defer { release(bytes) }
        return try body()
    }
}
