import Postgres

/// The catalog's advisory locks: the blob fence between writers and the garbage collector, and the per-content and
/// per-name locks that serialize concurrent registrations of the same thing.
public struct CatalogLocks: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The advisory-lock key shared by writers (shared) and the garbage collector (exclusive).
    public static let blobFenceKey: Int64 = 0x5155_4956_4552_4743 // "QUIVERGC"

    func lockBlobFenceShared(timeout: Duration) throws {
        try withLockTimeout(timeout) { try connection.query("SELECT pg_advisory_lock_shared(\(Self.blobFenceKey))") }
    }

    func unlockBlobFenceShared() {
        _ = try? connection.query("SELECT pg_advisory_unlock_shared(\(Self.blobFenceKey))")
    }

    func lockBlobFenceExclusive(timeout: Duration) throws {
        try withLockTimeout(timeout) { try connection.query("SELECT pg_advisory_lock(\(Self.blobFenceKey))") }
    }

    /// Waits for a lock at most `timeout` (PostgreSQL's `lock_timeout`, SQLSTATE 55P03 when it passes), so a
    /// writer that stopped while holding the fence cannot block the garbage collector, nor the gc's queued request
    /// every later writer, forever.
    private func withLockTimeout(_ timeout: Duration, _ body: () throws -> Void) throws {
        let milliseconds = max(1, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        try connection.query(SQLQuery(unsafeSQL: "SET lock_timeout = \(milliseconds)"))
        defer { _ = try? connection.query("RESET lock_timeout") }
        try body()
    }

    func unlockBlobFenceExclusive() {
        _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.blobFenceKey))")
    }

    /// Serializes, until the transaction ends, every writer recording this content.
    public func lockContent(_ canonicalHex: String) throws {
        try connection.query("SELECT pg_advisory_xact_lock(hashtext(\("quiver.content:" + canonicalHex)))")
    }

    /// Serializes, until the transaction ends, every writer adding a version to this adapter name.
    public func lockAdapterName(_ name: String) throws {
        try connection.query("SELECT pg_advisory_xact_lock(hashtext(\("quiver.adapter:" + name)))")
    }
}
