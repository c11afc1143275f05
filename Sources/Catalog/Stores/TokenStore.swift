import Foundation
import Postgres
import QuiverCore

/// API tokens: created with the sha256 of a secret the caller generated, looked up by that hash, revoked by name.
public struct TokenStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    private static let columns = "id, name, scope, name_pattern, created_by, created_at, expires_at, revoked_at, last_used_at"

    private static func decode(_ row: PostgresRow) throws -> TokenRecord {
        TokenRecord(
            id: try row.decode(Int64.self, at: 0), name: try row.decode(String.self, at: 1),
            scope: try row.decode(TokenScope.self, at: 2), namePattern: try row.decode(String?.self, at: 3),
            createdBy: try row.decode(String.self, at: 4), createdAt: try row.decode(Date.self, at: 5),
            expiresAt: try row.decode(Date?.self, at: 6), revokedAt: try row.decode(Date?.self, at: 7),
            lastUsedAt: try row.decode(Date?.self, at: 8))
    }

    /// Records a new token; a name already taken is a unique violation.
    public func create(name: String, scope: TokenScope, namePattern: String?, secretDigest: SHA256Digest, by actor: String,
                       expiresAt: Date?) throws -> TokenRecord {
        try Self.decode(connection.query("""
            INSERT INTO api_tokens (name, scope, name_pattern, token_sha256, created_by, expires_at)
            VALUES (\(name), \(scope), \(namePattern), \(secretDigest.hex), \(actor), \(expiresAt))
            RETURNING \(unsafeRaw: Self.columns)
            """).single())
    }

    /// The token whose secret hashes to `secretDigest`, whatever its state (the caller checks expiry and revocation).
    public func token(secretDigest: SHA256Digest) throws -> (record: TokenRecord, storedDigest: String)? {
        try connection.query("""
            SELECT \(unsafeRaw: Self.columns), token_sha256 FROM api_tokens WHERE token_sha256 = \(secretDigest.hex)
            """).first.map { (try Self.decode($0), try $0.decode(String.self, at: 9)) }
    }

    /// Every token, by name.
    public func all() throws -> [TokenRecord] {
        try connection.query("SELECT \(unsafeRaw: Self.columns) FROM api_tokens ORDER BY name").map(Self.decode)
    }

    /// Revokes the named token at `now`; false when there is no such token or it was already revoked.
    public func revoke(name: String, now: Date) throws -> Bool {
        try connection.query("""
            UPDATE api_tokens SET revoked_at = \(now) WHERE name = \(name) AND revoked_at IS NULL
            """).affectedRows == 1
    }

    /// Notes a use of the token, at most once a minute per token (so reads do not each write a row).
    public func noteUse(id: Int64, now: Date) throws {
        try connection.query("""
            UPDATE api_tokens SET last_used_at = \(now)
            WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < \(now) - interval '1 minute')
            """)
    }
}
