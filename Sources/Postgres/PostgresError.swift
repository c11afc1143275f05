import QuiverCore

/// A failure talking to PostgreSQL: a connection problem, an error reported by the server (with its SQLSTATE),
/// a value that could not be decoded, or a pool that could not hand out a connection.
public struct PostgresError: NamedError, Equatable {
    /// What kind of failure this is; `code` is derived from it.
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached (refused, unknown host, timeout).
        case connectionFailed
        /// The server rejected the credentials.
        case authenticationFailed
        /// An established connection broke (server restarted or crashed, network cut).
        case connectionLost
        /// The server refused a statement; `sqlState` says why.
        case server
        /// A column value could not be turned into the requested Swift type.
        case decoding
        /// A query or URL was malformed before it reached the server.
        case invalidRequest
        /// No pooled connection became free in time.
        case poolTimeout
        /// The pool was shut down.
        case poolClosed
        /// Starting the embedded server failed.
        case embeddedServer
    }

    public let kind: Kind
    /// The five-character SQLSTATE reported by the server (`23505` for a unique violation), when there is one.
    public let sqlState: String?
    /// The primary message, from the server or libpq.
    public let message: String
    /// The server's DETAIL field, if any.
    public let detail: String?
    /// The server's HINT field, if any.
    public let serverHint: String?
    /// The violated constraint's name, if any.
    public let constraint: String?
    /// The table the error concerns, if the server named one.
    public let table: String?

    public init(
        _ kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil,
        serverHint: String? = nil, constraint: String? = nil, table: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.serverHint = serverHint
        self.constraint = constraint
        self.table = table
    }

    /// True for SQLSTATE 23505.
    public var isUniqueViolation: Bool { sqlState == SQLState.uniqueViolation }

    public var errorKind: ErrorKind {
        switch kind {
        case .connectionFailed, .authenticationFailed, .connectionLost, .poolTimeout, .poolClosed, .embeddedServer:
            return .unavailable
        case .invalidRequest:
            return .invalidInput
        case .decoding:
            return .internal
        case .server:
            let state = sqlState ?? ""
            if [SQLState.uniqueViolation, SQLState.serializationFailure, SQLState.deadlockDetected].contains(state) { return .conflict }
            if state.hasPrefix("22") { return .invalidInput } // data exception: a value out of range or malformed
            if state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53") || state == SQLState.lockNotAvailable {
                return .unavailable
            }
            return .internal
        }
    }

    public var code: String {
        switch kind {
        case .connectionFailed: return "postgres.connection_failed"
        case .authenticationFailed: return "postgres.authentication_failed"
        case .connectionLost: return "postgres.connection_lost"
        case .server: return "postgres." + SQLState.name(of: sqlState ?? "")
        case .decoding: return "postgres.decoding_failed"
        case .invalidRequest: return "postgres.invalid_request"
        case .poolTimeout: return "postgres.pool_timeout"
        case .poolClosed: return "postgres.pool_closed"
        case .embeddedServer: return "postgres.embedded_server_failed"
        }
    }

    public var reason: String {
        var parts = [message]
        if let sqlState { parts.append("(SQLSTATE \(sqlState))") }
        // "Failing row contains (…)" and "Key (…)=(…) already exists" repeat the row's values, which may be secrets
        // (a webhook's signing secret): the constraint's name says what failed; the values stay out of messages.
        if let detail, !detail.hasPrefix("Failing row contains"), !detail.hasPrefix("Key (") { parts.append("detail: \(detail)") }
        if let constraint { parts.append("constraint: \(constraint)") }
        return parts.joined(separator: " ")
    }

    public var hint: String {
        switch kind {
        case .connectionFailed:
            return "check the database URL (or PGHOST/PGPORT) and that the server is running"
        case .authenticationFailed:
            return "check the user and password in the database URL (or PGUSER/PGPASSWORD, ~/.pgpass)"
        case .connectionLost:
            return "the server went away; retry the operation (the pool replaces broken connections)"
        case .server:
            return serverHint ?? ""
        case .decoding:
            return "the column's SQL type does not match the Swift type asked for; adjust the query or the type"
        case .invalidRequest:
            return ""
        case .poolTimeout:
            return "all connections stayed busy; raise the pool size or the wait timeout"
        case .poolClosed:
            return "the pool was shut down; open a new one"
        case .embeddedServer:
            return "see the server log named above; or set QUIVER_DATABASE_URL to use an existing server"
        }
    }
}

/// SQLSTATE codes Quiver reacts to, with the names PostgreSQL's documentation gives them.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let notNullViolation = "23502"
    public static let checkViolation = "23514"
    public static let raiseException = "P0001"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let undefinedTable = "42P01"
    public static let adminShutdown = "57P01"
    public static let lockNotAvailable = "55P03"
    /// Raised, among others, by a prepared statement whose result type a schema change altered.
    public static let featureNotSupported = "0A000"

    /// A readable name for a SQLSTATE, used in error codes; unknown codes keep their digits.
    public static func name(of state: String) -> String {
        switch state {
        case uniqueViolation: return "unique_violation"
        case foreignKeyViolation: return "foreign_key_violation"
        case notNullViolation: return "not_null_violation"
        case checkViolation: return "check_violation"
        case raiseException: return "raise_exception"
        case serializationFailure: return "serialization_failure"
        case deadlockDetected: return "deadlock_detected"
        case undefinedTable: return "undefined_table"
        case adminShutdown: return "admin_shutdown"
        case lockNotAvailable: return "lock_not_available"
        case featureNotSupported: return "feature_not_supported"
        case "": return "server_error"
        default: return "sqlstate_" + state
        }
    }
}
