import QuiverCore

/// Failures the HTTP layer itself detects (before or around a registry call): a body too large, a missing
/// Content-Length, a malformed parameter, a saturated executor. Everything else a handler answers with is the
/// registry's or a store's own named error, unchanged.
public struct ServerError: NamedError, Equatable {
    public let errorKind: ErrorKind
    public let code: String
    public let reason: String
    public let hint: String
    /// Seconds a client should wait before retrying (`Retry-After`), for `server.overloaded`.
    public let retryAfterSeconds: Int?
    /// The blob's size, for `server.range_not_satisfiable` (`Content-Range: bytes */size`).
    public let completeLength: Int64?

    public init(_ kind: ErrorKind, code: String, reason: String, hint: String = "", retryAfterSeconds: Int? = nil, completeLength: Int64? = nil) {
        self.errorKind = kind
        self.code = code
        self.reason = reason
        self.hint = hint
        self.retryAfterSeconds = retryAfterSeconds
        self.completeLength = completeLength
    }

    public static func == (lhs: ServerError, rhs: ServerError) -> Bool { lhs.code == rhs.code }

    /// A malformed parameter, header or body.
    static func invalid(_ reason: String, hint: String = "") -> ServerError {
        ServerError(.invalidInput, code: "server.invalid_request", reason: reason, hint: hint)
    }

    /// A body (or declared blob) above the server's limit: 413, before the body is read.
    static func tooLarge(_ what: String, size: Int64, limit: Int64) -> ServerError {
        ServerError(.invalidInput, code: "server.too_large", reason: "\(what) of \(size) bytes is above this server's limit of \(limit) bytes",
                    hint: "ask the operator to raise the limit (quiver serve --max-blob-size), or send less")
    }

    /// An upload without Content-Length: 411.
    static let lengthRequired = ServerError(
        .invalidInput, code: "server.length_required", reason: "a blob upload needs a Content-Length header",
        hint: "send the blob with its size (chunked uploads are not accepted)")

    /// A client that stopped sending its body: 408.
    static func bodyTimeout(seconds: Double) -> ServerError {
        ServerError(.invalidInput, code: "server.body_timeout",
                    reason: "the request body stalled: no byte arrived for \(Int(seconds)) s", hint: "retry the upload")
    }

    /// Every executor thread is busy and the queue is full: 503 with Retry-After.
    static func overloaded(retryAfterSeconds: Int) -> ServerError {
        ServerError(.unavailable, code: "server.overloaded", reason: "the server is busy: every worker thread is taken and the queue is full",
                    hint: "retry after \(retryAfterSeconds) s", retryAfterSeconds: retryAfterSeconds)
    }

    /// A byte range outside the blob: 416.
    static func rangeNotSatisfiable(_ header: String, size: Int64) -> ServerError {
        ServerError(.invalidInput, code: "server.range_not_satisfiable", reason: "the range '\(header.prefix(100))' lies outside the blob of \(size) bytes",
                    hint: "ask for bytes=a-b with a < \(size)", completeLength: size)
    }

    /// The route exists, the resource does not (no route matched).
    static func noRoute(_ method: String, _ path: String) -> ServerError {
        ServerError(.notFound, code: "server.no_route", reason: "there is no \(method) \(path.prefix(200))",
                    hint: "GET /openapi.json lists the operations")
    }

    /// An error that is not a named error: the details go to the log, never to the client.
    static func unexpected(requestID: String) -> ServerError {
        ServerError(.internal, code: "server.internal", reason: "an unexpected error occurred (request \(requestID))",
                    hint: "this is a bug in quiver: report it with the request id; the server log has the details")
    }
}
