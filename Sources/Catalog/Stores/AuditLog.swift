import Postgres

/// The append-only audit trail: who did what to which subject, with details as JSON.
public struct AuditLog: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Appends one event (inside the caller's transaction, so it commits or rolls back with the change it records).
    public func append(actor: String, action: String, subject: String, details: some Encodable = [String: String]()) throws {
        let json = try PostgresJSON(encoding: details)
        try connection.query(
            "INSERT INTO audit_events (actor, action, subject, details) VALUES (\(actor), \(action), \(subject), \(json))")
    }
}
