import Foundation
import Postgres

extension Registry {
    /// The policy in force (defaults for keys never set).
    public func policy() throws -> RegistryPolicy {
        try pool.withConnection { try Self.policy($0) }
    }

    static func policy(_ connection: PostgresConnection) throws -> RegistryPolicy {
        var policy = RegistryPolicy()
        for row in try connection.query("SELECT key, value::text FROM registry_policy") {
            let key = try row.decode(String.self, at: 0)
            guard RegistryPolicy.keys.contains(key) else { continue }
            try policy.apply(key: key, json: Data(try row.decode(String.self, at: 1).utf8))
        }
        return policy
    }

    /// Sets one policy key to a JSON value (checked), with an audit event.
    public func setPolicy(key: String, json: String) throws -> RegistryPolicy {
        var policy = RegistryPolicy()
        try policy.apply(key: key, json: Data(json.utf8))
        return try pool.transaction { tx in
            let value = PostgresJSON(text: json)
            try tx.query("""
                INSERT INTO registry_policy (key, value, updated_by, updated_at) VALUES (\(key), \(value), \(actor), now())
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = now()
                """)
            try audit(tx, action: "policy.set", subject: "policy:\(key)", details: ["value": json])
            return try Self.policy(tx)
        }
    }
}
