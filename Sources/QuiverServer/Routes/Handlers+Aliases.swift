import Hummingbird
import Registry

extension Handlers {
    /// `PUT /v1/adapters/{name}/aliases/{alias}`.
    struct AliasBody: RequestBody {
        static let keys: Set<String> = ["version", "force"]
        let version: Int
        let force: Bool?
    }

    /// `POST /v1/gc`.
    struct GCBody: RequestBody {
        static let keys: Set<String> = ["grace_seconds", "dry_run"]
        let graceSeconds: Int64
        let dryRun: Bool?

        enum CodingKeys: String, CodingKey {
            case graceSeconds = "grace_seconds"
            case dryRun = "dry_run"
        }
    }

    /// What `GET /v1/adapters/{name}/aliases` answers.
    struct AliasList: Encodable {
        let name: String
        let aliases: [String: Int]
    }

    static func adapterName(_ call: Call) throws -> String {
        let name = try call.path("name", maxLength: 128)
        try AdapterRef.validateName(name)
        return name
    }

    static func listAliases(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let name = try adapterName(call)
        try await call.authorize(.read(name: name))
        return try await call.cachedRead { call in
            let aliases = try await call.registry { registry in
                _ = try registry.resolve(.latest(name: name))  // 404 for an adapter that does not exist
                return try registry.aliases(name: name)
            }
            return try call.jsonAnswer(AliasList(name: name, aliases: Dictionary(aliases.map { ($0.alias, $0.version) }, uniquingKeysWith: { a, _ in a })),
                                       names: [name])
        }
    }

    static func setAlias(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let name = try adapterName(call)
        let alias = try call.path("alias", maxLength: 64)
        guard case .alias = try AdapterRef.parse("\(name)@\(alias)") else {
            throw ServerError.invalid("'\(alias)' is not an alias: a number names a version", hint: "an alias starts with a letter")
        }
        let body = try await call.json(AliasBody.self)
        guard body.version >= 1 else { throw ServerError.invalid("version numbers start at 1") }
        let policy = try await call.registry { try $0.policy() }
        // A protected alias needs an admin token; any other alias a token that may write the adapter.
        try await call.authorize(policy.protectedAliases.contains(alias) ? .moveProtectedAlias(name: name) : .write(name: name))
        let outcome = try await call.registry { try $0.setAlias(name: name, alias: alias, version: body.version, force: body.force ?? false) }
        call.logger.info("alias set", metadata: ["alias": "\(name)@\(alias)", "version": "\(outcome.version.label)", "forced": "\(outcome.forced)"])
        return try call.json(outcome)
    }

    static func showPolicy(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        return try await call.cachedRead { call in
            try call.jsonAnswer(try await call.registry { try $0.policy() }, names: [])
        }
    }

    static func setPolicy(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let key = try call.path("key", maxLength: 64)
        guard RegistryPolicy.keys.contains(key) else {
            throw RegistryError(.invalidInput, code: "registry.unknown_policy", reason: "there is no policy key '\(key)'",
                                hint: "keys: \(RegistryPolicy.keys.joined(separator: ", "))")
        }
        try await call.authorize(.administer)
        let json = try await call.jsonText()
        return try call.json(try await call.registry { try $0.setPolicy(key: key, json: json) })
    }

    static func collectGarbage(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(GCBody.self)
        guard body.graceSeconds >= 0 else { throw ServerError.invalid("grace_seconds must not be negative") }
        try await call.authorize(.administer)
        return try call.json(try await call.registry { try $0.collectGarbage(graceSeconds: body.graceSeconds, dryRun: body.dryRun ?? false) })
    }
}
