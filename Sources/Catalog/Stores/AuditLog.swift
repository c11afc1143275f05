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

    /// The chain's head: its position and hash (what `quiver audit --head` prints; keep it elsewhere, and a later
    /// rewrite of anything before it shows).
    public func head() throws -> (position: Int64, hash: String)? {
        try connection.query("SELECT chain_seq, hash FROM audit_events ORDER BY chain_seq DESC LIMIT 1").first.map {
            (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1))
        }
    }
}
