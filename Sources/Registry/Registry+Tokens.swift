import Foundation
import Postgres
import QuiverCore

/// A token as `token create` returns it: the secret, shown once, and its catalog record.
public struct CreatedToken: Sendable, Codable {
    public let secret: String
    public let token: TokenRecord
}

extension Registry {
    /// The prefix of every token Quiver issues (so secret scanners can recognise one).
    public static let tokenPrefix = "qvr_"

    /// Creates an API token with 256 random bits; only its sha256 is stored. Audited.
    public func createToken(name: String, scope: TokenScope, namePattern: String? = nil, expiresInSeconds: Int64? = nil) throws -> CreatedToken {
        try Self.validateToken(name: name, namePattern: namePattern)
        let secret = Self.tokenPrefix + Self.randomToken()
        let expires = expiresInSeconds.map { clock.now().addingTimeInterval(Double($0)) }
        do {
            return try catalog.transaction(attempts: 1) { tx in
                let record = try tx.tokens.create(
                    name: name, scope: scope, namePattern: namePattern, secretDigest: SHA256Digest.of(Array(secret.utf8)),
                    by: actor, expiresAt: expires)
                try audit(tx, action: "token.create", subject: "token:\(name)", details: [
                    "scope": scope.rawValue, "names": namePattern ?? "*",
                    "expires_at": expires.map { ISO8601DateFormatter().string(from: $0) } ?? "",
                ])
                return CreatedToken(secret: secret, token: record)
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw RegistryError(.conflict, code: "auth.token_exists", reason: "a token named \(name) already exists",
                                hint: "choose another name, or revoke the old token first")
        }
    }

    /// Refuses a malformed token name or name pattern (what `token create` checks before opening anything).
    public static func validateToken(name: String, namePattern: String?) throws {
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#, options: .regularExpression) != nil else {
            throw RegistryError(.invalidInput, code: "auth.invalid_token_name", reason: "'\(name.prefix(80))' is not a token name",
                                hint: "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        if let pattern = namePattern, pattern.isEmpty || pattern.count > 128 || pattern.contains(where: { $0.isNewline }) {
            throw RegistryError(.invalidInput, code: "auth.invalid_name_pattern", reason: "a --names pattern has 1-128 characters on one line")
        }
    }

    /// Every token (never a secret), by name.
    public func tokens() throws -> [TokenRecord] {
        try catalog.read { try $0.tokens.all() }
    }

    /// Revokes a token by name. Audited.
    public func revokeToken(name: String) throws {
        let now = clock.now()
        try catalog.transaction { tx in
            guard try tx.tokens.revoke(name: name, now: now) else {
                throw RegistryError(.notFound, code: "auth.token_not_found", reason: "there is no active token named \(name)",
                                    hint: "'quiver token list' shows the tokens")
            }
            try audit(tx, action: "token.revoke", subject: "token:\(name)")
        }
    }

    /// The token a presented secret belongs to, if it is valid now; `unauthenticated` otherwise. The secret is
    /// hashed and looked up by hash, and the stored hash compared in constant time.
    /// - Parameter noteUse: record the use in `last_used_at` (at most once a minute per token); a server that
    ///   rate-limits these notes itself passes false and calls ``noteTokenUse(_:)``.
    public func authenticate(secret: String, noteUse: Bool = true) throws -> TokenRecord {
        guard secret.hasPrefix(Self.tokenPrefix), secret.utf8.count <= 128 else { throw RegistryError.unauthenticated("the token is malformed") }
        let digest = SHA256Digest.of(Array(secret.utf8))
        guard let (record, stored) = try catalog.read({ try $0.tokens.token(secretDigest: digest) }),
              Self.constantTimeEquals(stored, digest.hex) else {
            throw RegistryError.unauthenticated("the token is not known")
        }
        let now = clock.now()
        if let why = Authorization.invalidity(of: record, now: now) { throw RegistryError.unauthenticated(why) }
        if noteUse { noteTokenUse(record) }
        return record
    }

    /// Records that `token` was used now (a failure to write it is not the request's failure).
    public func noteTokenUse(_ token: TokenRecord) {
        try? catalog.read(reconnectPatience: .zero) { try $0.tokens.noteUse(id: token.id, now: clock.now()) }
    }

    /// Records a refused request (401 or 403) in the audit trail, naming the token when one was presented.
    public func recordDenial(actor: String, action: String, subject: String, error: RegistryError) {
        _ = try? catalog.transaction { tx in
            try tx.audit.append(actor: actor, action: "auth.denied", subject: subject, details: [
                "request": action, "code": error.code, "reason": error.reason,
            ])
        }
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

extension RegistryError {
    /// A request without a valid token (401): `why` says what was wrong with it.
    public static func unauthenticated(_ why: String) -> RegistryError {
        RegistryError(.unauthenticated, code: "auth.unauthenticated", reason: why,
                      hint: "send 'Authorization: Bearer <token>' (QUIVER_TOKEN); 'quiver token create' makes one")
    }
}
