import Foundation
import Synchronization

/// When this server last recorded each token's use, so that a client's every request costs one token round trip
/// (the lookup, which also sees a revocation at once) and not a second one for `last_used_at`, which the catalog
/// keeps to the minute anyway.
final class TokenUseNotes: Sendable {
    private let noted = Mutex<[Int64: Date]>([:])
    private let interval: TimeInterval
    private let capacity: Int

    init(interval: TimeInterval = 60, capacity: Int = 10_000) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Whether the use of token `id` at `now` should be written (the first use, or the first after `interval`);
    /// claims it, so concurrent requests write it once.
    func shouldNote(_ id: Int64, now: Date) -> Bool {
        noted.withLock { noted in
            if let last = noted[id], now.timeIntervalSince(last) < interval { return false }
            if noted.count >= capacity { noted.removeAll(keepingCapacity: true) }
            noted[id] = now
            return true
        }
    }
}
