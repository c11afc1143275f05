import Foundation
import Merge
import ObjectStore
import QuiverCore
import Registry

/// Remote mode: the registry's use cases over the HTTP API of `quiver serve` (`openapi/quiver.openapi.json`),
/// answering with the same record types and named errors as ``Registry`` does locally.
///
/// Requests carry the bearer token of ``ClientSettings``; the server records the token's name as the actor.
/// Uploads, downloads and waits report to a ``ProgressReporter``. Every method blocks the calling thread inside
/// libcurl (the CLI's main thread); nothing here runs on a cooperative thread.
public final class QuiverClient: RegistryService {
    public let settings: ClientSettings
    let connection: APIConnection
    let progress: ProgressReporter

    public init(settings: ClientSettings, progress: ProgressReporter = .silent) {
        self.settings = settings
        self.connection = APIConnection(settings: settings)
        self.progress = progress
    }

    public var summary: String { "server \(settings.server.absoluteString), acting as the token's name" }

    /// The files go to the server over HTTP, hashed as they are sent; no lease is used.
    public var uploadsLocalFiles: Bool { false }

    // MARK: - Versions

    public func list(_ filter: VersionFilter, limit: Int) throws -> [AdapterVersion] {
        var query: [(String, String)] = []
        if let name = filter.name { query.append(("name", name)) }
        if let baseModel = filter.baseModel { query.append(("base_model", baseModel)) }
        if let rank = filter.rank { query.append(("rank", String(rank))) }
        if let module = filter.targetModule { query.append(("target_module", module)) }
        for (key, value) in filter.tags.sorted(by: { $0.key < $1.key }) { query.append(("tag", "\(key)=\(value)")) }
        if let kind = filter.kind { query.append(("kind", kind.rawValue)) }
        query.append(("limit", String(min(max(limit, 1), 10_000))))
        return try connection.json([AdapterVersion].self, read(["v1", "versions"], query: query))
    }

    /// The version's facts (immutable), then its adapter's aliases and its evaluations (resources of their own),
    /// the last two asked for by NAME@VERSION so that an alias moving meanwhile cannot mix two versions.
    public func show(_ ref: AdapterRef) throws -> VersionDetail {
        let facts = try connection.json(VersionFacts.self, read(["v1", "versions", ref.description]))
        let version = facts.version
        let aliases = try connection.json(AliasList.self, read(["v1", "adapters", version.name, "aliases"]))
        let evaluations = try connection.json([Evaluation].self, read(["v1", "versions", version.label, "evaluations"]))
        return VersionDetail(version: version, modules: facts.modules, aliases: aliases.aliases, evaluations: evaluations)
    }

    public func resolve(_ ref: AdapterRef) throws -> AdapterVersion {
        try connection.json(VersionFacts.self, read(["v1", "versions", ref.description])).version
    }

    public func lineage(of ref: AdapterRef, direction: LineageGraph.Direction) throws -> LineageGraph {
        let call = read(["v1", "versions", ref.description, "lineage"], query: [("direction", direction.rawValue), ("format", "json")])
        return try connection.json(LineageGraph.self, call)
    }

    public func audit(_ ref: AdapterRef, label: String) throws -> AuditReport {
        try connection.json(AuditReport.self, read(["v1", "audit", ref.description])).relabeled(label)
    }

    public func verify(_ ref: AdapterRef) throws -> VerifyReport {
        // Read-only on the server (it re-reads and re-runs), so safe to repeat; it may compute for minutes.
        let call = APIConnection.Call("POST", ["v1", "versions", ref.description, "verify"], repetition: .safe, stall: settings.computeTimeout)
        return try connection.json(VerifyReport.self, call)
    }

    // MARK: - Evaluations, aliases, policy

    public func recordEvaluation(_ ref: AdapterRef, _ evaluation: Evaluation) throws -> AdapterVersion {
        // Resolved first and recorded against NAME@VERSION, so a NAME that moves meanwhile cannot redirect it.
        let version = try resolve(ref)
        let body = EvaluationBody(suite: evaluation.suite, metric: evaluation.metric, value: evaluation.value, higherIsBetter: evaluation.higherIsBetter)
        let call = APIConnection.Call(
            "POST", ["v1", "versions", version.label, "evaluations"], body: try APIConnection.body(body), contentType: "application/json",
            repetition: .once, stall: settings.stallTimeout)
        _ = try connection.json([Evaluation].self, call, expected: [200, 201])
        return version
    }

    public func evaluations(of ref: AdapterRef) throws -> [Evaluation] {
        try connection.json([Evaluation].self, read(["v1", "versions", ref.description, "evaluations"]))
    }

    public func setAlias(name: String, alias: String, version: Int, force: Bool) throws -> AliasOutcome {
        let call = APIConnection.Call(
            "PUT", ["v1", "adapters", name, "aliases", alias], body: try APIConnection.body(AliasBody(version: version, force: force)),
            contentType: "application/json", repetition: .once, stall: settings.stallTimeout)
        return try connection.json(AliasOutcome.self, call)
    }

    public func policy() throws -> RegistryPolicy {
        try connection.json(RegistryPolicy.self, read(["v1", "policy"]))
    }

    public func setPolicy(key: String, json: String) throws -> RegistryPolicy {
        let call = APIConnection.Call(
            "PUT", ["v1", "policy", key], body: .data(Data(json.utf8)), contentType: "application/json", repetition: .safe,
            stall: settings.stallTimeout)
        return try connection.json(RegistryPolicy.self, call)
    }

    public func collectGarbage(graceSeconds: Int64, dryRun: Bool) throws -> GCReport {
        let call = APIConnection.Call(
            "POST", ["v1", "gc"], body: try APIConnection.body(GCBody(graceSeconds: graceSeconds, dryRun: dryRun)),
            contentType: "application/json", repetition: .once, stall: settings.computeTimeout)
        return try connection.json(GCReport.self, call)
    }

    // MARK: - Tokens

    public func createToken(name: String, scope: TokenScope, namePattern: String?, expiresInSeconds: Int64?) throws -> CreatedToken {
        let body = TokenBody(name: name, scope: scope, names: namePattern, expiresInSeconds: expiresInSeconds)
        let call = APIConnection.Call(
            "POST", ["v1", "tokens"], body: try APIConnection.body(body), contentType: "application/json", repetition: .once,
            stall: settings.stallTimeout)
        return try connection.json(CreatedToken.self, call, expected: [201])
    }

    public func tokens() throws -> [TokenRecord] {
        try connection.json([TokenRecord].self, read(["v1", "tokens"]))
    }

    public func revokeToken(name: String) throws {
        let call = APIConnection.Call("DELETE", ["v1", "tokens", name], repetition: .once, stall: settings.stallTimeout)
        try connection.check(try connection.perform(call), call, expected: [204])
    }

    // MARK: - Helpers

    /// A GET that may be repeated, with the ordinary stall limit.
    func read(_ path: [String], query: [(String, String)] = []) -> APIConnection.Call {
        APIConnection.Call("GET", path, query: query, repetition: .safe, stall: settings.stallTimeout)
    }
}

/// Request bodies, with the API's snake_case keys.
struct EvaluationBody: Encodable {
    let suite: String
    let metric: String
    let value: Double
    let higherIsBetter: Bool

    enum CodingKeys: String, CodingKey {
        case suite, metric, value
        case higherIsBetter = "higher_is_better"
    }
}

struct AliasBody: Encodable {
    let version: Int
    let force: Bool
}

struct GCBody: Encodable {
    let graceSeconds: Int64
    let dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case graceSeconds = "grace_seconds"
        case dryRun = "dry_run"
    }
}

struct TokenBody: Encodable {
    let name: String
    let scope: TokenScope
    let names: String?
    let expiresInSeconds: Int64?

    enum CodingKeys: String, CodingKey {
        case name, scope, names
        case expiresInSeconds = "expires_in_seconds"
    }
}

/// `GET /v1/adapters/{name}/aliases`.
struct AliasList: Decodable {
    let name: String
    let aliases: [String: Int]
}
