import Hummingbird
import Registry

extension Handlers {
    /// `POST /v1/tokens`.
    struct TokenBody: RequestBody {
        static let keys: Set<String> = ["name", "scope", "names", "expires_in_seconds"]
        let name: String
        let scope: TokenScope
        let names: String?
        let expiresInSeconds: Int64?

        enum CodingKeys: String, CodingKey {
            case name, scope, names
            case expiresInSeconds = "expires_in_seconds"
        }
    }

    static func createToken(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(TokenBody.self)
        if let seconds = body.expiresInSeconds, seconds < 1 || seconds > 100 * 365 * 86_400 {
            throw ServerError.invalid("expires_in_seconds must be between 1 and 100 years")
        }
        try await call.authorize(.administer)
        let created = try await call.registry {
            try $0.createToken(name: body.name, scope: body.scope, namePattern: body.names, expiresInSeconds: body.expiresInSeconds)
        }
        // The secret is in the body once; it is never logged.
        call.logger.info("token created", metadata: ["token": "\(created.token.name)", "scope": "\(created.token.scope)"])
        return try call.json(created, status: .created)
    }

    static func listTokens(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        try await call.authorize(.administer)
        return try call.json(try await call.registry { try $0.tokens() })
    }

    static func revokeToken(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let name = try call.path("name", maxLength: 64)
        try await call.authorize(.administer)
        try await call.registry { try $0.revokeToken(name: name) }
        call.logger.info("token revoked", metadata: ["token": "\(name)"])
        return Response(status: .noContent)
    }
}
