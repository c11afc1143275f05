import Foundation
import Hummingbird
import QuiverCore
import Registry

extension Handlers {
    /// `POST /v1/versions`.
    struct RegisterBody: RequestBody {
        static let keys: Set<String> = ["name", "config_sha256", "weights_sha256", "tags", "base_revision"]
        let name: String
        let configSHA256: String
        let weightsSHA256: String
        let tags: [String: String]?
        let baseRevision: String?

        enum CodingKeys: String, CodingKey {
            case name, tags
            case configSHA256 = "config_sha256"
            case weightsSHA256 = "weights_sha256"
            case baseRevision = "base_revision"
        }
    }

    /// `POST /v1/versions/{ref}/evaluations`.
    struct EvaluationBody: RequestBody {
        static let keys: Set<String> = ["suite", "metric", "value", "higher_is_better"]
        let suite: String
        let metric: String
        let value: Double
        let higherIsBetter: Bool?

        enum CodingKeys: String, CodingKey {
            case suite, metric, value
            case higherIsBetter = "higher_is_better"
        }
    }

    static func digest(_ text: String, field: String) throws -> SHA256Digest {
        guard let digest = SHA256Digest(hex: text) else { throw ServerError.invalid("\(field) '\(text.prefix(80))' is not a sha256 digest", hint: "write 64 hex characters") }
        return digest
    }

    /// `ref` parsed (NAME, NAME@VERSION, NAME@ALIAS or a sha256) and resolved, with the token's read access to the
    /// version's name checked.
    static func resolve(_ call: Call, parameter: String = "ref") async throws -> (ref: AdapterRef, version: AdapterVersion) {
        let ref = try AdapterRef.parse(try call.path(parameter))
        let version = try await call.registry { try $0.resolve(ref) }
        try await call.authorize(.read(name: version.name))
        return (ref, version)
    }

    static func registerVersion(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(RegisterBody.self)
        try AdapterRef.validateName(body.name)
        let config = try digest(body.configSHA256, field: "config_sha256"), weights = try digest(body.weightsSHA256, field: "weights_sha256")
        let tags = body.tags ?? [:]
        try TagRules.validate(tags)
        if let revision = body.baseRevision, revision.count > 256 { throw ServerError.invalid("base_revision has more than 256 characters") }
        try await call.authorize(.write(name: body.name))
        let outcome = try await call.registry {
            try $0.registerStored(configDigest: config, weightsDigest: weights, name: body.name, tags: tags, baseRevision: body.baseRevision)
        }
        call.logger.info("version registered", metadata: ["version": "\(outcome.version.label)", "existed": "\(outcome.existed)"])
        return try call.json(outcome, status: outcome.existed ? .ok : .created, headers: [.location: location(outcome.version)])
    }

    /// `/v1/versions/NAME@VERSION`, the name percent-encoded (a `/` becomes `%2F`).
    static func location(_ version: AdapterVersion) -> String {
        "/v1/versions/" + pathSegment(version.label)
    }

    static func pathSegment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func listVersions(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters(["name", "base_model", "rank", "target_module", "tag", "kind", "limit"])
        let name = try call.query("name", maxLength: 128)
        if let name { try AdapterRef.validateName(name) }
        var tags: [String: String] = [:]
        for item in try call.queryValues("tag") {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ServerError.invalid("a tag filter is key=value, got '\(item.prefix(80))'")
            }
            tags[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        try TagRules.validate(tags)
        let rank = try call.query("rank", maxLength: 10).map { text -> Int in
            guard let value = Int(text), value >= 1 else { throw ServerError.invalid("rank '\(text)' is not a positive integer") }
            return value
        }
        let kind = try call.query("kind", maxLength: 16).map { text -> VersionKind in
            guard let kind = VersionKind(rawValue: text) else { throw ServerError.invalid("kind '\(text)' is not trained or merged") }
            return kind
        }
        let limit = try call.query("limit", maxLength: 6).map { text -> Int in
            guard let value = Int(text), (1...10_000).contains(value) else { throw ServerError.invalid("limit '\(text)' is not between 1 and 10000") }
            return value
        } ?? 1000
        let filter = VersionFilter(
            name: name, baseModel: try call.query("base_model"), rank: rank, targetModule: try call.query("target_module", maxLength: 256),
            tags: tags, kind: kind)
        if let name { try await call.authorize(.read(name: name)) }
        let versions = try await call.registry { try $0.list(filter, limit: limit) }
        let reader = call
        return try call.json(versions.filter { reader.mayRead($0.name) })
    }

    static func showVersion(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        return try await call.cachedRead { call in
            let (ref, version) = try await resolve(call)
            var headers: HTTPFields = [.eTag: etag(version.canonicalDigest)]
            switch ref {
            case .version, .digest: headers[.cacheControl] = immutable
            case .latest, .alias: headers[.cacheControl] = "no-cache"
            }
            let facts = try await call.registry { try $0.facts(of: version) }
            return try call.jsonAnswer(facts, names: [version.name], headers: headers)
        }
    }

    static func lineage(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters(["direction", "format"])
        let direction = try call.query("direction", maxLength: 16).map { text -> LineageGraph.Direction in
            guard let direction = LineageGraph.Direction(rawValue: text) else { throw ServerError.invalid("direction '\(text)' is not ancestors or descendants") }
            return direction
        } ?? .ancestors
        let format = try call.query("format", maxLength: 16).map { text -> LineageGraph.Format in
            guard let format = LineageGraph.Format(rawValue: text) else { throw ServerError.invalid("format '\(text)' is not json, text, dot, mermaid or svg") }
            return format
        } ?? .json
        return try await call.cachedRead { call in
            let (_, version) = try await resolve(call)
            let graph = try await call.registry { try $0.lineage(of: version, direction: direction) }
            let names = [version.name]
            if format == .json { return try call.jsonAnswer(graph, names: names) }
            if format == .svg {
                // A picture opened on its own: no script or outside resource may run in it, whatever it contains.
                var headers = Page.securityHeaders
                headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'"
                headers[.contentType] = "image/svg+xml; charset=utf-8"
                return CachedResponse(status: .ok, headers: headers, body: ByteBuffer(string: try graph.render(format) + "\n"), names: names)
            }
            return call.textAnswer(try graph.render(format) + "\n", names: names)
        }
    }

    static func verify(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let (_, version) = try await resolve(call)
        let report = try await call.registry { try $0.verify(version) }
        call.logger.info("verified", metadata: ["version": "\(version.label)", "passed": "\(report.passed)"])
        return try call.json(report)
    }

    static func listEvaluations(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        return try await call.cachedRead { call in
            let (_, version) = try await resolve(call)
            return try call.jsonAnswer(try await call.registry { try $0.evaluations(of: version) }, names: [version.name])
        }
    }

    static func recordEvaluation(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(EvaluationBody.self)
        for (field, text) in [("suite", body.suite), ("metric", body.metric)] where text.isEmpty || text.count > 128 {
            throw ServerError.invalid("\(field) must have 1-128 characters")
        }
        let (_, version) = try await resolve(call)
        try await call.authorize(.write(name: version.name))
        let evaluation = Evaluation(suite: body.suite, metric: body.metric, value: body.value, higherIsBetter: body.higherIsBetter ?? true)
        let all = try await call.registry { registry in
            try registry.recordEvaluation(version, evaluation)
            return try registry.evaluations(of: version)
        }
        return try call.json(all, status: .created)
    }

    static func audit(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let query = try call.path("query")
        // Only a reference or a digest: the registry's file form (hash a local file) is never reached from a request.
        let ref = try AdapterRef.parse(query)
        return try await call.cachedRead { call in
            let report = try await call.registry { try $0.audit(ref, label: query) }
            try await call.authorize(.read(name: report.subject.name))
            return try call.jsonAnswer(report, names: [report.subject.name])
        }
    }
}
