import Postgres

extension Registry {
    /// The advisory-lock key shared by writers (shared) and the garbage collector (exclusive).
    static let blobFenceKey: Int64 = 0x5155_4956_4552_4743 // "QUIVERGC"

    /// Runs `body` holding the blob fence in shared mode, so `gc` (which takes it exclusively) never deletes a blob
    /// between its upload and the commit that references it.
    func withBlobFence<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock_shared(\(Self.blobFenceKey))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock_shared(\(Self.blobFenceKey))") }
            return try body(connection)
        }
    }
}
