import Foundation
import HTTPTypes
import Hummingbird
import Logging
import QuiverCore
import Registry
import SafeTensors

/// One request as a handler sees it: its parameters, body and token, and the only ways a handler reaches the
/// registry — through the server's executor, acting as the request's token.
///
/// The order is always: parse and validate what the request says (no I/O), authenticate, authorise, then call the
/// registry. Every 401 and 403 is recorded in the audit trail (`auth.denied`) before it is answered.
struct Call: Sendable {
    let request: Request
    let context: BasicRequestContext
    let route: Route
    let server: ServerEnvironment
    /// The authenticated token; nil before ``authenticate()`` (and on routes that need none).
    private(set) var token: TokenRecord?

    init(request: Request, context: BasicRequestContext, route: Route, server: ServerEnvironment) {
        self.request = request
        self.context = context
        self.route = route
        self.server = server
    }

    var logger: Logger { context.logger }
    var requestID: String { context.logger[metadataKey: RequestObservation.requestIDKey]?.description ?? "-" }
    /// `METHOD /template`, as recorded in denials.
    var operation: String { "\(request.method.rawValue) \(route.path)" }

    // MARK: - Parameters

    /// A path parameter, percent-decoded (a name's `/` travels as `%2F`), at most `maxLength` characters, with no
    /// control characters.
    func path(_ name: String, maxLength: Int = 256) throws -> String {
        guard let raw = context.parameters.get(name), raw.utf8.count <= maxLength * 3,
              let decoded = raw.removingPercentEncoding, !decoded.isEmpty, decoded.count <= maxLength,
              !decoded.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ServerError.invalid("the path parameter \(name) is missing, malformed or longer than \(maxLength) characters")
        }
        return decoded
    }

    /// The values of a query parameter (decoded), each at most `maxLength` characters; at most 64 of them.
    func queryValues(_ name: String, maxLength: Int = 512) throws -> [String] {
        let values = request.uri.queryParameters.getAll(name).map { String($0) }
        guard values.count <= 64 else { throw ServerError.invalid("too many \(name) parameters (at most 64)") }
        for value in values where value.count > maxLength || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ServerError.invalid("the query parameter \(name) is longer than \(maxLength) characters or holds control characters")
        }
        return values
    }

    /// A query parameter given at most once.
    func query(_ name: String, maxLength: Int = 512) throws -> String? {
        let values = try queryValues(name, maxLength: maxLength)
        guard values.count <= 1 else { throw ServerError.invalid("the query parameter \(name) is given more than once") }
        return values.first
    }

    /// Refuses query parameters this operation does not define (a typo would otherwise be ignored silently).
    func onlyQueryParameters(_ allowed: Set<String>) throws {
        for (key, _) in request.uri.queryParameters where !allowed.contains(String(key)) {
            throw ServerError.invalid("unknown query parameter '\(key.prefix(64))'", hint: allowed.isEmpty ? "this operation takes none" : "allowed: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    var header: HTTPFields { request.headers }

    // MARK: - Bodies

    /// The JSON body, decoded strictly: at most `server.settings.maxJSONBody` bytes (413 above it, checked from
    /// Content-Length before reading), one JSON object with no duplicated and no unknown keys, then decoded.
    func json<Body: RequestBody>(_ type: Body.Type) async throws -> Body {
        let bytes = try await bodyBytes()
        guard case .object(let members) = try Self.parseStrictly(bytes) else { throw ServerError.invalid("the body must be a JSON object") }
        if let unknown = members.first(where: { !Body.keys.contains($0.key) }) {
            throw ServerError.invalid("unknown field '\(unknown.key.prefix(64))' in the body", hint: "fields: \(Body.keys.sorted().joined(separator: ", "))")
        }
        return try Self.decode(type, from: bytes)
    }

    /// The body as JSON text: one JSON value, parsed strictly (duplicated keys refused).
    func jsonText() async throws -> String {
        let bytes = try await bodyBytes()
        _ = try Self.parseStrictly(bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func parseStrictly(_ bytes: [UInt8]) throws -> JSONValue {
        do {
            return try StrictJSONParser.parse(bytes)
        } catch {
            throw ServerError.invalid("the body is not valid JSON: \(error)")
        }
    }

    private static func decode<Body: Decodable>(_ type: Body.Type, from bytes: [UInt8]) throws -> Body {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch let error as any NamedError {
            throw error
        } catch let DecodingError.keyNotFound(key, _) {
            throw ServerError.invalid("the body lacks the field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ServerError.invalid("the body's field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw ServerError.invalid("the body's field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is invalid: \(context.debugDescription)")
        } catch {
            throw ServerError.invalid("the body does not decode: \(error)")
        }
    }

    /// The whole body, bounded by the JSON body limit.
    func bodyBytes() async throws -> [UInt8] {
        let limit = server.settings.maxJSONBody
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > limit {
            throw ServerError.tooLarge("a JSON body", size: length, limit: Int64(limit))
        }
        var collected: [UInt8] = []
        for try await chunk in request.body {
            guard collected.count + chunk.readableBytes <= limit else {
                throw ServerError.tooLarge("a JSON body", size: Int64(collected.count + chunk.readableBytes), limit: Int64(limit))
            }
            collected += chunk.readableBytesView
        }
        return collected
    }

    // MARK: - Authentication and authorisation

    /// Authenticates the bearer token (or, on a page route, the token of the browser's session cookie:
    /// ``PageSessions``), and checks the route's scope. A missing or bad token is 401 (audited as `anonymous`), a
    /// token below the route's scope 403 (audited with its name).
    mutating func authenticate() async throws {
        var secret = Self.bearerSecret(request.headers[.authorization])
        if secret == nil, route.isPage, let session = PageSessions.sessionID(cookieHeader: request.headers[.cookie]) {
            secret = server.sessions.secret(session: session)
        }
        try await authenticate(presenting: secret)
    }

    /// Authenticates `secret` (nil: none was presented) as ``authenticate()`` does.
    mutating func authenticate(presenting secret: String?) async throws {
        let registry = server.registry
        do {
            guard let secret else {
                throw RegistryError.unauthenticated("no bearer token was presented")
            }
            let uses = server.tokenUses, cache = server.caches.tokens
            let key = SHA256Digest.of(Array(secret.utf8)).hex
            if let known = cache.value(for: key) {
                // Known since the last token change the catalog announced; expiry moves with the clock, so check it.
                let now = registry.clock.now()
                if let why = Authorization.invalidity(of: known, now: now) {
                    throw RegistryError.unauthenticated(why)
                }
                if uses.shouldNote(known.id, now: now) {
                    _ = try? await server.executor.run { registry.noteTokenUse(known) }
                }
                token = known
            } else {
                let ticket = cache.ticket()
                let authenticated = try await server.executor.run {
                    let token = try registry.authenticate(secret: secret, noteUse: false)
                    if uses.shouldNote(token.id, now: registry.clock.now()) { registry.noteTokenUse(token) }
                    return token
                }
                cache.store(authenticated, for: key, cost: 1, ticket: ticket)
                token = authenticated
            }
        } catch let error as RegistryError where error.errorKind == .unauthenticated {
            await recordDenial(actor: "anonymous", error)
            throw error
        }
        if let needed = route.scope.tokenScope { try await authorize { try Authorization.check($0, scope: needed) } }
    }

    /// Checks `action` against the authenticated token; a refusal is audited and thrown (403).
    func authorize(_ action: RegistryAction) async throws {
        try await authorize { try Authorization.check($0, may: action) }
    }

    private func authorize(_ check: (TokenRecord) throws -> Void) async throws {
        guard let token else { throw ServerError(.internal, code: "server.internal", reason: "authorisation before authentication") }
        do {
            try check(token)
        } catch let error as RegistryError {
            await recordDenial(actor: token.name, error)
            throw error
        }
    }

    /// The authenticated token's name, as pages show who is signed in.
    var actorName: String { token?.name ?? "anonymous" }

    /// Whether the client reached the server over https (directly or through a proxy that says so), so that a
    /// cookie is marked Secure.
    var isHTTPS: Bool {
        if request.head.scheme == "https" || request.uri.scheme?.rawValue == "https" { return true }
        if request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https" { return true }
        return request.headers[HTTPField.Name("Forwarded")!]?.lowercased().contains("proto=https") == true
    }

    /// Refuses a form posted from another site (login CSRF, a forged "verify"): a browser sends `Origin` with
    /// every POST; when it does, its host must be the one the request was sent to.
    func requireSameOrigin() throws {
        guard let origin = request.headers[.origin] else { return }
        // HTTP/1 `Host` arrives as the request's authority.
        let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] ?? ""
        let originHost = URL(string: origin).map { url in url.host.map { $0 + (url.port.map { ":\($0)" } ?? "") } ?? "" } ?? ""
        guard !host.isEmpty, originHost.lowercased() == host.lowercased() else {
            throw RegistryError(.forbidden, code: "server.cross_origin", reason: "a form posted from another origin (\(origin.prefix(100))) is refused",
                                hint: "use the form on this server's own page")
        }
    }

    /// Whether the token may read adapters named `name` (listings leave out the others).
    func mayRead(_ name: String) -> Bool {
        guard let token else { return false }
        return (try? Authorization.check(token, may: .read(name: name))) != nil
    }

    private func recordDenial(actor: String, _ error: RegistryError) async {
        let registry = server.registry
        let operation = operation, subject = String(request.uri.path.prefix(300))
        logger.notice("request denied", metadata: ["actor": "\(actor)", "code": "\(error.code)"])
        _ = try? await server.executor.run {
            registry.recordDenial(actor: actor, action: operation, subject: subject, error: error)
        }
    }

    /// The secret of `Authorization: Bearer <secret>`, if the header has that shape.
    static func bearerSecret(_ header: String?) -> String? {
        guard let header, header.utf8.count <= 512 else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let secret = parts[1].trimmingCharacters(in: .whitespaces)
        return secret.isEmpty ? nil : secret
    }

    // MARK: - The registry

    /// Runs `work` on the server's executor with the registry acting as the request's token, so the audit trail
    /// names the token.
    func registry<T: Sendable>(_ work: @escaping @Sendable (Registry) throws -> T) async throws -> T {
        let acting = server.registry.acting(as: token?.name ?? "anonymous")
        return try await server.executor.run { try work(acting) }
    }

    /// The same on the transfers' threads: for work that moves blobs for seconds (a merge run within the request
    /// downloads its inputs and uploads its result), so it never holds a thread catalog requests wait for.
    func registryMovingBlobs<T: Sendable>(_ work: @escaping @Sendable (Registry) throws -> T) async throws -> T {
        let acting = server.registry.acting(as: token?.name ?? "anonymous")
        return try await server.transfers.run { try work(acting) }
    }

    // MARK: - Responses

    /// `value` as JSON with the CLI's encoder (`--json`): sorted keys, ISO 8601 dates.
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        try jsonAnswer(value, names: [], status: status, headers: headers).response
    }
}

/// A JSON request body: the keys it may carry (anything else is refused).
protocol RequestBody: Decodable, Sendable {
    static var keys: Set<String> { get }
}
