import Hummingbird
import Registry

/// The scope an operation needs at least (its `x-quiver-scope` in the OpenAPI document); handlers then check the
/// names they touch against the token's pattern.
public enum RouteScope: String, Sendable, CaseIterable {
    /// No token: health, readiness, metrics, the document.
    case none
    case read, write, admin

    var tokenScope: TokenScope? {
        switch self {
        case .none: nil
        case .read: .read
        case .write: .write
        case .admin: .admin
        }
    }
}

/// One operation of the API: method, path template (OpenAPI syntax, `{param}`), operation id, scope, handler.
public struct Route: Sendable {
    public let method: HTTPRequest.Method
    /// The path template exactly as the OpenAPI document writes it (`/v1/versions/{ref}`).
    public let path: String
    public let operationID: String
    public let scope: RouteScope
    let handler: @Sendable (inout Call) async throws -> Response

    /// A page of the read-only UI: HTML (errors too), and a session cookie is accepted in place of a bearer token.
    var isPage: Bool { path == "/ui" || path.hasPrefix("/ui/") }

    init(_ method: HTTPRequest.Method, _ path: String, _ operationID: String, _ scope: RouteScope,
         _ handler: @escaping @Sendable (inout Call) async throws -> Response) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.scope = scope
        self.handler = handler
    }
}
