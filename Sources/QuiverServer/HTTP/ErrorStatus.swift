import Hummingbird
import QuiverCore

/// The one mapping from an error to an HTTP status. By kind, as the CLI maps kinds to exit statuses
/// (`ExitStatus`); three codes that HTTP has a sharper status for come first.
///
/// | kind or code | status |
/// | --- | --- |
/// | `server.too_large` | 413 |
/// | `server.length_required` | 411 |
/// | `server.body_timeout` | 408 |
/// | `server.range_not_satisfiable`, `objectstore.range_not_satisfiable` | 416 |
/// | `invalid_input` | 400 |
/// | `unauthenticated` | 401 (with `WWW-Authenticate: Bearer`) |
/// | `forbidden` | 403 |
/// | `not_found` | 404 |
/// | `conflict` | 409 |
/// | `refusal`, `integrity` | 422 |
/// | `internal` | 500 |
/// | `unavailable` | 503 (with `Retry-After` when the server is saturated) |
public enum ErrorStatus {
    public static func status(for error: any NamedError) -> HTTPResponse.Status {
        switch error.code {
        case "server.too_large": return .contentTooLarge
        case "server.length_required": return .lengthRequired
        case "server.body_timeout": return .requestTimeout
        case "server.range_not_satisfiable", "objectstore.range_not_satisfiable": return .rangeNotSatisfiable
        default: return status(for: error.errorKind)
        }
    }

    public static func status(for kind: ErrorKind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .refusal, .integrity: .unprocessableContent
        case .internal: .internalServerError
        case .unavailable: .serviceUnavailable
        }
    }
}
