import Catalog
import Foundation

/// What a request wants to do, for the token check.
public enum RegistryAction: Sendable, Equatable {
    /// Read anything (list, show, pull, lineage, audit, verify); names are checked where one is named.
    case read(name: String?)
    /// Create or change what belongs to `name`: register, merge into, record an evaluation, move an alias.
    case write(name: String)
    /// Upload a blob (content-addressed: it belongs to no name until a version references it).
    case uploadBlob
    /// Move a protected alias of `name`.
    case moveProtectedAlias(name: String)
    /// Registry-wide administration: policy, tokens, gc.
    case administer
}

/// Who may do what, decided without I/O from the token's record: its state (expired, revoked), its scope, and its
/// name pattern.
public enum Authorization {
    /// Why a token may not act now (nil when it may): revoked or expired.
    public static func invalidity(of token: TokenRecord, now: Date) -> String? {
        if let revoked = token.revokedAt, revoked <= now { return "token \(token.name) was revoked" }
        if let expires = token.expiresAt, expires <= now { return "token \(token.name) expired" }
        return nil
    }

    /// The scope an action needs.
    public static func requiredScope(_ action: RegistryAction) -> TokenScope {
        switch action {
        case .read: .read
        case .write, .uploadBlob: .write
        case .moveProtectedAlias, .administer: .admin
        }
    }

    /// Refuses (`forbidden`) an action outside the token's scope or name pattern.
    public static func check(_ token: TokenRecord, may action: RegistryAction) throws(RegistryError) {
        try check(token, scope: requiredScope(action))
        let name: String?
        switch action {
        case .read(let named): name = named
        case .write(let named), .moveProtectedAlias(let named): name = named
        case .uploadBlob, .administer: name = nil
        }
        if let name, let pattern = token.namePattern, !matches(pattern, name) {
            throw RegistryError(
                .forbidden, code: "auth.name_pattern",
                reason: "token \(token.name) may only touch adapters matching '\(pattern)', not '\(name)'",
                hint: "use a token whose --names pattern covers \(name)")
        }
    }

    /// Refuses (`forbidden`) a token whose scope is below `needed`: an operation's minimum scope, checked before
    /// the names it touches are known (an HTTP route's, before its body is read).
    public static func check(_ token: TokenRecord, scope needed: TokenScope) throws(RegistryError) {
        guard token.scope >= needed else {
            throw RegistryError(
                .forbidden, code: "auth.scope",
                reason: "token \(token.name) has scope \(token.scope), and this needs \(needed)",
                hint: "ask an admin for a token with scope \(needed)")
        }
    }

    /// Glob matching over adapter names: `*` matches any run of characters (also none), every other character
    /// itself. Iterative, so a hostile pattern costs at most length(pattern) × length(name) steps.
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] != "*", p[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
