import QuiverCore

/// A failure the client detects itself: a malformed `--server` or token, an unreachable server, an answer that
/// is not the API's. Errors the server reports keep the server's code and kind (``RemoteError``).
public struct ClientError: NamedError, Equatable {
    public let errorKind: ErrorKind
    public let code: String
    public let reason: String
    public let hint: String

    /// - Parameter code: the part after `client.`.
    public init(_ kind: ErrorKind, _ code: String, _ reason: String, hint: String = "") {
        self.errorKind = kind
        self.code = "client.\(code)"
        self.reason = reason
        self.hint = hint
    }

    public static func == (lhs: ClientError, rhs: ClientError) -> Bool { lhs.code == rhs.code }
}
