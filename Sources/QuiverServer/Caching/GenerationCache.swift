import Synchronization

/// A bounded map whose entries are all dropped at once when the catalog changes (``invalidate()``), and which
/// refuses entries computed from a catalog state older than the last change.
///
/// A reader takes a ``Ticket`` before it reads the catalog and offers its result with that ticket; if a change
/// was announced in between (or the change feed was down when the ticket was taken), the result is not kept.
/// Eviction is oldest-first when the entry count or the summed cost passes its bound.
final class GenerationCache<Value: Sendable>: Sendable {
    struct Ticket: Sendable {
        fileprivate let generation: UInt64
    }

    private struct State {
        var generation: UInt64 = 0
        var entries: [String: (value: Value, cost: Int)] = [:]
        var order: [String] = []
        var orderStart = 0
        var cost = 0
    }

    private let state = Mutex(State())
    private let maxEntries: Int
    private let maxCost: Int
    private let isLive: @Sendable () -> Bool

    /// - Parameters:
    ///   - maxEntries, maxCost: bounds (cost is what the caller says an entry weighs, e.g. its bytes); 0 disables.
    ///   - isLive: whether changes are being announced now; when not, nothing is kept or returned.
    init(maxEntries: Int, maxCost: Int, isLive: @escaping @Sendable () -> Bool) {
        self.maxEntries = maxEntries
        self.maxCost = maxCost
        self.isLive = isLive
    }

    var isEnabled: Bool { maxEntries > 0 && maxCost > 0 }

    /// The value kept for `key`, if the feed is live.
    func value(for key: String) -> Value? {
        guard isEnabled, isLive() else { return nil }
        return state.withLock { $0.entries[key]?.value }
    }

    /// A ticket for a read that starts now; nil when nothing read now could be kept.
    func ticket() -> Ticket? {
        guard isEnabled, isLive() else { return nil }
        return state.withLock { Ticket(generation: $0.generation) }
    }

    /// Keeps `value` under `key` if no change was announced since `ticket` was taken.
    func store(_ value: Value, for key: String, cost: Int, ticket: Ticket?) {
        guard let ticket, cost <= maxCost / 4, isLive() else { return }
        state.withLock { state in
            guard state.generation == ticket.generation else { return }
            if let old = state.entries.updateValue((value, cost), forKey: key) {
                state.cost -= old.cost
            } else {
                state.order.append(key)
            }
            state.cost += cost
            while state.entries.count > maxEntries || state.cost > maxCost, state.orderStart < state.order.count {
                let oldest = state.order[state.orderStart]
                state.orderStart += 1
                if let removed = state.entries.removeValue(forKey: oldest) { state.cost -= removed.cost }
            }
            if state.orderStart > 1024 && state.orderStart * 2 > state.order.count {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
        }
    }

    /// Drops every entry and every outstanding ticket.
    func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
            state.order.removeAll(keepingCapacity: true)
            state.orderStart = 0
            state.cost = 0
        }
    }
}
