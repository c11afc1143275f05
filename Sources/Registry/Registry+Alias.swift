import Foundation
import Postgres

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
    /// check, and the override is recorded in the alias event and the audit trail.
    public func setAlias(name: String, alias: String, version number: Int, force: Bool = false) throws -> AliasOutcome {
        try AdapterRef.validateAlias(alias, in: "\(name)@\(alias)")
        if Int(alias) != nil {
            throw RegistryError(.invalidInput, code: "registry.invalid_alias", reason: "'\(alias)' looks like a version number", hint: "choose an alias starting with a letter")
        }
        return try retryingTransaction { tx in
            let version = try Self.resolve(tx, .version(name: name, number: number))
            let policy = try Self.policy(tx)
            var shortfalls: [String] = []
            if policy.protectedAliases.contains(alias) && version.kind == "merged" {
                shortfalls = try Self.promotionShortfalls(tx, candidate: version)
            }
            if !shortfalls.isEmpty && !force {
                throw RegistryError(
                    .refusal, code: "registry.promotion_refused",
                    reason: "\(version.label) may not become \(name)@\(alias) (a protected alias): " + shortfalls.joined(separator: "; "),
                    hint: "record evaluations with 'quiver eval record', or pass --force (audited)")
            }
            let adapterID = try tx.query("SELECT id FROM adapters WHERE name = \(name)").single().decode(Int64.self, at: 0)
            let previous = try tx.query("SELECT version_id FROM aliases WHERE adapter_id = \(adapterID) AND alias = \(alias) FOR UPDATE")
                .first.map { try $0.decode(Int64.self, at: 0) }
            try tx.query("""
                INSERT INTO aliases (adapter_id, alias, version_id, updated_by) VALUES (\(adapterID), \(alias), \(version.id), \(actor))
                ON CONFLICT (adapter_id, alias) DO UPDATE SET version_id = excluded.version_id, updated_by = excluded.updated_by, updated_at = now()
                """)
            let forced = force && !shortfalls.isEmpty
            try tx.query("""
                INSERT INTO alias_events (adapter_id, alias, previous_version_id, version_id, forced, set_by)
                VALUES (\(adapterID), \(alias), \(previous), \(version.id), \(forced), \(actor))
                """)
            let previousNumber = try previous.flatMap { try Self.version(tx, id: $0)?.version }
            try audit(tx, action: forced ? "alias.force" : "alias.set", subject: "\(name)@\(alias)", details: [
                "version": version.label, "previous": previousNumber.map { "\(name)@\($0)" } ?? "",
                "overridden": shortfalls.joined(separator: "; "),
            ])
            return AliasOutcome(alias: alias, version: version, previousVersion: previousNumber, forced: forced, overridden: shortfalls)
        }
    }

    /// Why `candidate` may not be promoted; empty when it may.
    static func promotionShortfalls(_ tx: PostgresConnection, candidate: AdapterVersion) throws -> [String] {
        let own = try evaluations(tx, versionID: candidate.id)
        let parentIDs = try tx.query("SELECT DISTINCT parent_version_id FROM lineage_edges WHERE child_version_id = \(candidate.id)")
            .map { try $0.decode(Int64.self, at: 0) }
        var parents: [(label: String, evaluations: [Evaluation])] = []
        for parent in try versions(tx, ids: parentIDs) {
            parents.append((parent.label, try evaluations(tx, versionID: parent.id)))
        }
        var reasons: [String] = []
        if own.isEmpty { reasons.append("\(candidate.label) has no recorded evaluations") }
        reasons += PromotionRule.shortfalls(candidate: own, parents: parents)
            .filter { !own.isEmpty || $0.candidateValue != nil }
            .map(\.description)
        return reasons
    }

    static func evaluations(_ tx: PostgresConnection, versionID: Int64) throws -> [Evaluation] {
        try tx.query("SELECT suite, metric, value, higher_is_better FROM evaluations WHERE version_id = \(versionID) ORDER BY at, id").map {
            Evaluation(suite: try $0.decode(String.self, at: 0), metric: try $0.decode(String.self, at: 1),
                       value: try $0.decode(Double.self, at: 2), higherIsBetter: try $0.decode(Bool.self, at: 3))
        }
    }

    /// Records one evaluation result of a version.
    public func recordEvaluation(_ version: AdapterVersion, _ evaluation: Evaluation) throws {
        guard evaluation.value.isFinite else {
            throw RegistryError(.invalidInput, code: "registry.invalid_evaluation", reason: "the value of \(evaluation.suite)/\(evaluation.metric) is not finite")
        }
        try pool.transaction { tx in
            try tx.query("""
                INSERT INTO evaluations (version_id, suite, metric, value, higher_is_better, recorded_by)
                VALUES (\(version.id), \(evaluation.suite), \(evaluation.metric), \(evaluation.value), \(evaluation.higherIsBetter), \(actor))
                """)
            try audit(tx, action: "eval.record", subject: version.label, details: [
                "suite": evaluation.suite, "metric": evaluation.metric, "value": String(evaluation.value),
                "higher_is_better": String(evaluation.higherIsBetter),
            ])
        }
    }

    /// Evaluations recorded for a version, in recording order.
    public func evaluations(of version: AdapterVersion) throws -> [Evaluation] {
        try pool.withConnection { try Self.evaluations($0, versionID: version.id) }
    }
}
