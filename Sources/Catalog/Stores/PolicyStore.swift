import Postgres

/// The `registry_policy` table: key → JSON value, with who set it.
public struct PolicyStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Every stored key with its JSON text.
    public func all() throws -> [(key: String, json: String)] {
        try connection.query("SELECT key, value::text FROM registry_policy ORDER BY key").map {
            (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1))
        }
    }

    /// Sets one key.
    public func set(key: String, json: String, by actor: String) throws {
        try connection.query("""
            INSERT INTO registry_policy (key, value, updated_by, updated_at) VALUES (\(key), \(PostgresJSON(text: json)), \(actor), now())
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = now()
            """)
    }
}
