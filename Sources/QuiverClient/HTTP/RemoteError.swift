import Foundation
import QuiverCore

/// An error the server answered with: its JSON body `{"error": {"code", "kind", "message", "hint"}}` turned back
/// into a named error with the same code and kind, so the CLI's one exit path gives the status local mode gives.
public struct RemoteError: NamedError, Equatable {
    public let errorKind: ErrorKind
    public let code: String
    public let reason: String
    public let hint: String
    /// The HTTP status it came with.
    public let status: Int

    public init(kind: ErrorKind, code: String, reason: String, hint: String, status: Int) {
        self.errorKind = kind
        self.code = code
        self.reason = reason
        self.hint = hint
        self.status = status
    }

    public static func == (lhs: RemoteError, rhs: RemoteError) -> Bool { lhs.code == rhs.code && lhs.errorKind == rhs.errorKind }

    /// The error for a non-success answer: the error body when there is one, else one made from the status alone
    /// (a HEAD has no body; a proxy or another web server answers without the API's body).
    ///
    /// - Parameter request: `METHOD URL`, named in a made-up error's reason.
    public static func from(status: Int, body: Data, request: String) -> RemoteError {
        if let decoded = try? JSONDecoder().decode(Body.self, from: body) {
            let error = decoded.error
            return RemoteError(kind: ErrorKind(rawValue: error.kind) ?? .internal, code: error.code, reason: error.message,
                               hint: error.hint ?? "", status: status)
        }
        let kind = kind(forStatus: status)
        switch status {
        case 401:
            return RemoteError(kind: kind, code: "auth.unauthenticated", reason: "the server refused the token (HTTP 401 on \(request))",
                               hint: "set QUIVER_TOKEN (or QUIVER_TOKEN_FILE) to a valid token; 'quiver token create' makes one", status: status)
        case 403:
            return RemoteError(kind: kind, code: "auth.forbidden", reason: "the token may not do this (HTTP 403 on \(request))",
                               hint: "ask an admin for a token with the scope and names this needs", status: status)
        default:
            return RemoteError(kind: kind, code: "client.http_\(status)", reason: "HTTP \(status) from \(request) without an error body",
                               hint: "check that --server (QUIVER_SERVER) is a quiver serve", status: status)
        }
    }

    /// The kind an HTTP status stands for: the server's mapping (kinds to statuses) read backwards.
    public static func kind(forStatus status: Int) -> ErrorKind {
        switch status {
        case 401: .unauthenticated
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 422: .refusal
        case 400, 411, 413, 416: .invalidInput
        case 502, 503, 504: .unavailable
        default: .internal
        }
    }

    struct Body: Decodable {
        struct Error: Decodable {
            let code: String
            let kind: String
            let message: String
            let hint: String?
        }

        let error: Error
    }
}
