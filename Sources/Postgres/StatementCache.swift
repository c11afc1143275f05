import Foundation

/// The statements one connection has prepared, by text and parameter types, at most `capacity` of them: the least
/// recently used goes first (its name is handed back so the caller can `DEALLOCATE` it). A capacity of 0 turns
/// preparing off (for a pooler that cannot keep named statements, such as PgBouncer before 1.21 in transaction mode).
struct StatementCache {
    /// The limit taken from `QUIVER_PG_PREPARED_STATEMENTS` (a count; 0 turns preparing off), 256 by default.
    static var configuredCapacity: Int {
        ProcessInfo.processInfo.environment["QUIVER_PG_PREPARED_STATEMENTS"].flatMap { Int($0) }.map { max(0, $0) } ?? 256
    }

    struct Key: Hashable {
        let sql: String
        let types: [UInt32]
    }

    private struct Entry {
        let name: String
        var lastUse: UInt64
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    private var serial = 0

    init(capacity: Int = 256) {
        self.capacity = max(0, capacity)
    }

    var isEnabled: Bool { capacity > 0 }

    var count: Int { entries.count }

    /// The name of the statement prepared for `key`, marking it used.
    mutating func name(for key: Key) -> String? {
        guard entries[key] != nil else { return nil }
        clock += 1
        entries[key]!.lastUse = clock
        return entries[key]!.name
    }

    /// When the cache is full, removes the least recently used statement and returns its name.
    mutating func evictionCandidate() -> String? {
        guard entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else { return nil }
        entries[oldest.key] = nil
        return oldest.value.name
    }

    /// A statement name not used before on this connection.
    mutating func nextName() -> String {
        serial += 1
        return "quiver_\(serial)"
    }

    mutating func insert(_ key: Key, name: String) {
        clock += 1
        entries[key] = Entry(name: name, lastUse: clock)
    }

    mutating func remove(_ key: Key) {
        entries[key] = nil
    }
}
