/// What sort of failure an error is, independent of the module that raised it.
///
/// Callers branch on the kind, never on the text of a code: the CLI maps kinds to exit statuses in one place
/// (`ExitStatus`), and the HTTP server maps the same kinds to response statuses.
public enum ErrorKind: String, Sendable, Codable, CaseIterable {
    /// A rule said no: incompatible merge inputs, a registry policy, a protected alias. Retrying cannot help.
    case refusal
    /// The thing asked for does not exist (an adapter, a version, a blob, a job).
    case notFound = "not_found"
    /// The request collides with existing state (an output that already exists, a concurrent writer that won).
    case conflict
    /// The input is malformed or out of range: a file, a config, a name, a parameter, a URL.
    case invalidInput = "invalid_input"
    /// A service could not be reached or answered with a failure, after every retry (PostgreSQL, S3).
    case unavailable
    /// Stored or received bytes do not match their digest, or a recorded result does not reproduce.
    case integrity
    /// No valid credentials were presented (a missing, unknown, expired or revoked API token).
    case unauthenticated
    /// Valid credentials, but not for this action or this name (a token's scope or name pattern).
    case forbidden
    /// A bug or an impossible state: nothing the user did explains it.
    case `internal`
}
