import Hummingbird

/// Every operation of the API, in one table: the router is built from it, and a test checks it against the
/// OpenAPI document (`openapi/quiver.openapi.json`) — the same method + path templates, the same operation ids and
/// scopes.
public enum RouteTable {
    static let routes: [Route] = [
        Route(.get, "/healthz", "health", .none, Handlers.health),
        Route(.get, "/readyz", "readiness", .none, Handlers.readiness),
        Route(.get, "/metrics", "metrics", .none, Handlers.metrics),
        Route(.get, "/openapi.json", "openapiDocument", .none, Handlers.openAPIDocument),

        Route(.head, "/v1/blobs/{sha256}", "headBlob", .read, Handlers.headBlob),
        Route(.get, "/v1/blobs/{sha256}", "getBlob", .read, Handlers.getBlob),
        Route(.put, "/v1/blobs/{sha256}", "putBlob", .write, Handlers.putBlob),

        Route(.post, "/v1/versions", "registerVersion", .write, Handlers.registerVersion),
        Route(.get, "/v1/versions", "listVersions", .read, Handlers.listVersions),
        Route(.get, "/v1/versions/{ref}", "showVersion", .read, Handlers.showVersion),
        Route(.get, "/v1/versions/{ref}/lineage", "versionLineage", .read, Handlers.lineage),
        Route(.post, "/v1/versions/{ref}/verify", "verifyVersion", .read, Handlers.verify),
        Route(.get, "/v1/versions/{ref}/evaluations", "listEvaluations", .read, Handlers.listEvaluations),
        Route(.post, "/v1/versions/{ref}/evaluations", "recordEvaluation", .write, Handlers.recordEvaluation),
        Route(.get, "/v1/audit/{query}", "audit", .read, Handlers.audit),

        Route(.post, "/v1/merges", "merge", .write, Handlers.merge),
        Route(.get, "/v1/jobs/{id}", "showJob", .read, Handlers.showJob),

        Route(.get, "/v1/adapters/{name}/aliases", "listAliases", .read, Handlers.listAliases),
        Route(.put, "/v1/adapters/{name}/aliases/{alias}", "setAlias", .write, Handlers.setAlias),
        Route(.get, "/v1/policy", "showPolicy", .read, Handlers.showPolicy),
        Route(.put, "/v1/policy/{key}", "setPolicy", .admin, Handlers.setPolicy),
        Route(.post, "/v1/gc", "collectGarbage", .admin, Handlers.collectGarbage),

        Route(.post, "/v1/tokens", "createToken", .admin, Handlers.createToken),
        Route(.get, "/v1/tokens", "listTokens", .admin, Handlers.listTokens),
        Route(.delete, "/v1/tokens/{name}", "revokeToken", .admin, Handlers.revokeToken),

        // The read-only pages (HTML, no script): bearer token or the session cookie of POST /ui/session.
        Route(.get, "/ui", "pageIndex", .read, Handlers.indexPage),
        Route(.get, "/ui/versions/{ref}", "pageVersion", .read, Handlers.versionPage),
        Route(.post, "/ui/versions/{ref}/verify", "pageVerify", .read, Handlers.verifyPage),
        Route(.get, "/ui/session", "pageSignInForm", .none, Handlers.signInForm),
        Route(.post, "/ui/session", "pageSignIn", .none, Handlers.signIn),
        Route(.post, "/ui/session/end", "pageSignOut", .none, Handlers.signOut),
    ]

    /// The table as `(METHOD, path template, operation id, scope)` rows, for the agreement test.
    public static var operations: [(method: String, path: String, operationID: String, scope: String)] {
        routes.map { ($0.method.rawValue, $0.path, $0.operationID, $0.scope.rawValue) }
    }
}

/// The handlers, one file per concern (`Handlers+Blobs.swift`, …); each parses, authorises names, calls the
/// registry through ``Call`` and maps the result.
enum Handlers {}
