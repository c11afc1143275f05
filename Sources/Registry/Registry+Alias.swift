import Foundation
import QuiverCore

/// What `setAlias` did.
public struct AliasOutcome: Sendable, Codable, Equatable {
    public let alias: String
    public let version: AdapterVersion
    public let previousVersion: Int?
    /// True when a protected-alias check failed and `force` overrode it (audited).
    public let forced: Bool
    /// The shortfalls that `force` overrode, as text.
    public let overridden: [String]
}

extension Registry {
    /// Points `alias` of `name` at `version`, keeping the history in `alias_events`.
    ///
    /// A protected alias (policy `protected_aliases`) accepts a merged version only when it has evaluations and
    /// they are at least as good as each parent's on that parent's suites (`PromotionRule`); `force` overrides the
    /// check, and the override is recorded in the alias event and the audit trail. Webhooks that want `alias.moved`
    /// get a delivery queued in the same transaction.
    public func setAlias(name: String, alias: String, version number: Int, force: Bool = false) throws -> AliasOutcome {
        try AdapterRef.validateAlias(alias, in: "\(name)@\(alias)")
        if Int(alias) != nil {
            throw RegistryError(.invalidInput, code: "registry.invalid_alias", reason: "'\(alias)' looks like a version number", hint: "choose an alias starting with a letter")
        }
        return try catalog.transaction { tx in
            let version = try Self.resolve(tx, .version(name: name, number: number))
            let policy = try Self.policy(tx)
            let parents = try tx.versions.versions(ids: try tx.lineage.parents(of: version.id)).map {
                (label: $0.label, evaluations: try tx.evaluations.of(versionID: $0.id))
            }
            let shortfalls = PromotionRule.refusals(
                candidate: version.label, kind: version.kind, aliasIsProtected: policy.protectedAliases.contains(alias),
                evaluations: try tx.evaluations.of(versionID: version.id), parents: parents)
            if !shortfalls.isEmpty && !force {
                throw RegistryError(
                    .refusal, code: "registry.promotion_refused",
                    reason: "\(version.label) may not become \(name)@\(alias) (a protected alias): " + shortfalls.joined(separator: "; "),
                    hint: "record evaluations with 'quiver eval record', or pass --force (audited)")
            }
            guard let adapterID = try tx.versions.adapterID(name: name) else {
                throw RegistryError.internal("adapter \(name) vanished while its version \(version.label) was read")
            }
            let forced = force && !shortfalls.isEmpty
            let previous = try tx.aliases.move(adapterID: adapterID, alias: alias, to: version.id, forced: forced, by: actor)
            let previousVersion = try previous.flatMap { try tx.versions.version(id: $0) }
            let previousNumber = previousVersion?.version
            // The outbox: hooks hear of the move in this transaction (a move to where the alias already points is none).
            if previous != version.id {
                try announceAlias(tx, alias: alias, version: version, previous: previousVersion, forced: forced)
            }
            try audit(tx, action: forced ? "alias.force" : "alias.set", subject: "\(name)@\(alias)", details: [
                "version": version.label, "previous": previousNumber.map { "\(name)@\($0)" } ?? "",
                "overridden": shortfalls.joined(separator: "; "),
            ])
            return AliasOutcome(alias: alias, version: version, previousVersion: previousNumber, forced: forced, overridden: shortfalls)
        }
    }

    /// Records one evaluation result of a version.
    public func recordEvaluation(_ version: AdapterVersion, _ evaluation: Evaluation) throws {
        guard evaluation.value.isFinite else {
            throw RegistryError(.invalidInput, code: "registry.invalid_evaluation", reason: "the value of \(evaluation.suite)/\(evaluation.metric) is not finite")
        }
        try catalog.transaction { tx in
            try tx.evaluations.record(versionID: version.id, evaluation, by: actor)
            try audit(tx, action: "eval.record", subject: version.label, details: [
                "suite": evaluation.suite, "metric": evaluation.metric, "value": String(evaluation.value),
                "higher_is_better": String(evaluation.higherIsBetter),
            ])
        }
    }

    /// Evaluations recorded for a version, in recording order.
    public func evaluations(of version: AdapterVersion) throws -> [Evaluation] {
        try catalog.read { try $0.evaluations.of(versionID: version.id) }
    }

    /// The policy in force (defaults for keys never set).
    public func policy() throws -> RegistryPolicy {
        try catalog.read { try Self.policy($0) }
    }

    static func policy(_ session: CatalogSession) throws -> RegistryPolicy {
        var policy = RegistryPolicy()
        for (key, json) in try session.policy.all() where RegistryPolicy.keys.contains(key) {
            try policy.apply(key: key, json: Data(json.utf8))
        }
        return policy
    }

    /// Sets one policy key to a JSON value (checked), with an audit event.
    public func setPolicy(key: String, json: String) throws -> RegistryPolicy {
        var policy = RegistryPolicy()
        try policy.apply(key: key, json: Data(json.utf8))
        return try catalog.transaction { tx in
            try tx.policy.set(key: key, json: json, by: actor)
            try audit(tx, action: "policy.set", subject: "policy:\(key)", details: ["value": json])
            return try Self.policy(tx)
        }
    }
}
