import Foundation
import Postgres

/// One broken invariant found in the catalog itself.
public struct CatalogFinding: Sendable, Codable, Equatable {
    /// Which invariant (`version_files`, `merge_lineage`, `lineage_cycle`, `lineage_part`, `job_state`, `dead_lease`,
    /// `alias_history`, `merge_output`).
    public let check: String
    /// What is broken (`tone@2`, `merge #7`, `job 3`, `tone@production`).
    public let subject: String
    public let detail: String
    /// The versions it affects.
    public let versionIDs: [Int64]

    public init(check: String, subject: String, detail: String, versionIDs: [Int64]) {
        self.check = check
        self.subject = subject
        self.detail = detail
        self.versionIDs = versionIDs
    }
}

/// A blob a version references, with the size the catalog recorded.
public struct ReferencedBlob: Sendable, Equatable {
    public let hexDigest: String
    public let size: Int64
    /// `name@version` of every version referencing it, and which file it is there.
    public let referencedBy: [String]
    public let versionIDs: [Int64]
}

/// The queries of `quiver fsck`: every invariant between the catalog's tables that constraints alone do not hold.
public struct IntegrityChecks: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Every blob some version references (config and weights), with its recorded size.
    public func referencedBlobs() throws -> [ReferencedBlob] {
        try connection.query("""
            SELECT r.digest, max(r.size), array_agg(a.name || '@' || v.version || ' ' || r.role ORDER BY v.id, r.role),
                array_agg(v.id ORDER BY v.id, r.role)
            FROM (SELECT id, config_digest AS digest, config_size AS size, 'config' AS role FROM adapter_versions
                  UNION ALL SELECT id, weights_digest, weights_size, 'weights' FROM adapter_versions) r
            JOIN adapter_versions v ON v.id = r.id JOIN adapters a ON a.id = v.adapter_id
            GROUP BY r.digest ORDER BY r.digest
            """).map {
            ReferencedBlob(hexDigest: try $0.decode(String.self, at: 0), size: try $0.decode(Int64.self, at: 1),
                           referencedBy: try $0.decode([String].self, at: 2), versionIDs: try $0.decode([Int64].self, at: 3))
        }
    }

    /// Every finding of the catalog-only checks, as of `now` (for leases).
    public func findings(now: Date) throws -> [CatalogFinding] {
        try versionFiles() + mergeOutputs() + mergeLineage() + lineageCycles() + lineageParts() + jobStates(now: now) + aliasHistory() + auditChain()
    }

    /// A version's two blob rows must name exactly its config and weights digests.
    func versionFiles() throws -> [CatalogFinding] {
        try connection.query("""
            SELECT v.id, a.name || '@' || v.version FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
            WHERE NOT EXISTS (SELECT 1 FROM version_blobs b WHERE b.version_id = v.id AND b.role = 'config' AND b.blob_sha256 = v.config_digest)
               OR NOT EXISTS (SELECT 1 FROM version_blobs b WHERE b.version_id = v.id AND b.role = 'weights' AND b.blob_sha256 = v.weights_digest)
               OR (SELECT count(*) FROM version_blobs b WHERE b.version_id = v.id) <> 2
            ORDER BY v.id
            """).map {
            CatalogFinding(check: "version_files", subject: try $0.decode(String.self, at: 1),
                           detail: "its version_blobs rows do not name exactly its config and weights digests",
                           versionIDs: [try $0.decode(Int64.self, at: 0)])
        }
    }

    /// A merged version has a succeeded merge producing it; a succeeded merge has an output.
    func mergeOutputs() throws -> [CatalogFinding] {
        let orphans = try connection.query("""
            SELECT v.id, a.name || '@' || v.version FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
            WHERE v.kind = 'merged' AND NOT EXISTS (SELECT 1 FROM merges m WHERE m.output_version_id = v.id AND m.status = 'succeeded')
            ORDER BY v.id
            """).map {
            CatalogFinding(check: "merge_output", subject: try $0.decode(String.self, at: 1),
                           detail: "a merged version with no recorded merge: its recipe cannot be re-run",
                           versionIDs: [try $0.decode(Int64.self, at: 0)])
        }
        let headless = try connection.query("""
            SELECT id FROM merges WHERE status = 'succeeded' AND output_version_id IS NULL ORDER BY id
            """).map {
            CatalogFinding(check: "merge_output", subject: "merge #\(try $0.decode(Int64.self, at: 0))",
                           detail: "a succeeded merge without an output version", versionIDs: [])
        }
        return orphans + headless
    }

    /// A merge's lineage edges are exactly its distinct inputs (other than its output) with their summed weights.
    func mergeLineage() throws -> [CatalogFinding] {
        try connection.query("""
            WITH expected AS (
                SELECT mi.merge_id, mi.input_version_id AS parent, sum(mi.weight) AS weight
                FROM merge_inputs mi JOIN merges m ON m.id = mi.merge_id
                WHERE m.output_version_id IS NOT NULL AND mi.input_version_id <> m.output_version_id
                GROUP BY mi.merge_id, mi.input_version_id
            ), actual AS (
                SELECT merge_id, parent_version_id AS parent, weight FROM lineage_edges
            ), differing AS (
                SELECT coalesce(e.merge_id, a.merge_id) AS merge_id FROM expected e
                FULL JOIN actual a ON a.merge_id = e.merge_id AND a.parent = e.parent
                WHERE e.merge_id IS NULL OR a.merge_id IS NULL OR abs(e.weight - a.weight) > 1e-9 * greatest(1, abs(e.weight))
            )
            SELECT DISTINCT m.id, m.output_version_id FROM differing d JOIN merges m ON m.id = d.merge_id ORDER BY m.id
            """).map {
            CatalogFinding(check: "merge_lineage", subject: "merge #\(try $0.decode(Int64.self, at: 0))",
                           detail: "its lineage edges do not match its recorded inputs and weights",
                           versionIDs: [try $0.decode(Int64?.self, at: 1)].compactMap { $0 })
        }
    }

    /// Every committed version has its stored lineage part (migration 0008), and each part is what the catalog's
    /// rows make it: its node, root record, edges, merges and inputs, and its ancestors, which are its parents and
    /// their stored ancestors (so, checked version by version, the stored ancestries are right all the way up). A
    /// part that disagrees means lineage rows were changed behind the registry's back; audits would read the part.
    func lineageParts() throws -> [CatalogFinding] {
        try connection.query("""
            WITH rendered AS (SELECT * FROM quiver_lineage_parts(ARRAY(SELECT id FROM adapter_versions)))
            SELECT v.id, a.name || '@' || v.version, p.version_id IS NULL
            FROM rendered r JOIN adapter_versions v ON v.id = r.version_id JOIN adapters a ON a.id = v.adapter_id
            LEFT JOIN lineage_parts p ON p.version_id = r.version_id
            WHERE p.version_id IS NULL OR (p.adapter_id, p.ancestors, p.node, p.root, p.edges, p.merges, p.inputs)
                IS DISTINCT FROM (r.adapter_id, r.ancestors, r.node, r.root, r.edges, r.merges, r.inputs)
            ORDER BY v.id
            """).map {
            let missing = try $0.decode(Bool.self, at: 2)
            return CatalogFinding(check: "lineage_part", subject: try $0.decode(String.self, at: 1),
                                  detail: missing ? "the version has no stored lineage part; audits read its lineage the long way"
                                      : "its stored lineage part differs from what the catalog's lineage rows make it",
                                  versionIDs: [try $0.decode(Int64.self, at: 0)])
        }
    }

    /// Lineage must be acyclic: no version is its own ancestor.
    func lineageCycles() throws -> [CatalogFinding] {
        try connection.query("""
            WITH RECURSIVE walk(start, id, depth) AS (
                SELECT child_version_id, parent_version_id, 1 FROM lineage_edges
                UNION
                SELECT w.start, e.parent_version_id, w.depth + 1 FROM walk w JOIN lineage_edges e ON e.child_version_id = w.id
                WHERE w.id <> w.start AND w.depth < 10000
            )
            SELECT DISTINCT w.start, a.name || '@' || v.version FROM walk w
            JOIN adapter_versions v ON v.id = w.start JOIN adapters a ON a.id = v.adapter_id
            WHERE w.id = w.start ORDER BY w.start
            """).map {
            CatalogFinding(check: "lineage_cycle", subject: try $0.decode(String.self, at: 1),
                           detail: "the version is its own ancestor", versionIDs: [try $0.decode(Int64.self, at: 0)])
        }
    }

    /// Jobs in a legal state; a running job's lease is held by a live worker (not expired).
    func jobStates(now: Date) throws -> [CatalogFinding] {
        try connection.query("""
            SELECT id, CASE
                WHEN status = 'running' AND (lease_owner IS NULL OR lease_expires_at IS NULL) THEN 'illegal: running without a lease'
                WHEN status = 'succeeded' AND result_version_id IS NULL THEN 'illegal: succeeded without a result'
                WHEN status <> 'succeeded' AND result_version_id IS NOT NULL THEN 'illegal: a result but not succeeded'
                WHEN attempts > max_attempts THEN 'illegal: more attempts than allowed'
                WHEN status = 'queued' AND lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL THEN 'illegal: queued but leased'
                WHEN status = 'running' AND lease_expires_at < \(now) THEN 'dead lease: held by ' || lease_owner || ', expired ' || lease_expires_at::text
                END AS problem, result_version_id
            FROM merge_jobs
            WHERE (status = 'running' AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < \(now)))
               OR (status = 'succeeded' AND result_version_id IS NULL)
               OR (status <> 'succeeded' AND result_version_id IS NOT NULL)
               OR attempts > max_attempts
               OR (status = 'queued' AND lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
            ORDER BY id
            """).map {
            let problem = try $0.decode(String.self, at: 1)
            return CatalogFinding(check: problem.hasPrefix("dead lease") ? "dead_lease" : "job_state",
                                  subject: "job \(try $0.decode(Int64.self, at: 0))", detail: problem,
                                  versionIDs: [try $0.decode(Int64?.self, at: 2)].compactMap { $0 })
        }
    }

    /// Each alias's history is a chain: the first move has no predecessor, each later move's predecessor is the
    /// version the move before it set, and the last move's version is where the alias points now.
    func aliasHistory() throws -> [CatalogFinding] {
        try connection.query("""
            WITH ordered AS (
                SELECT e.adapter_id, e.alias, e.id, e.previous_version_id, e.version_id,
                    lag(e.version_id) OVER (PARTITION BY e.adapter_id, e.alias ORDER BY e.id) AS before,
                    row_number() OVER (PARTITION BY e.adapter_id, e.alias ORDER BY e.id DESC) AS from_end
                FROM alias_events e
            ), broken AS (
                SELECT adapter_id, alias, 'move ' || id || ' names a predecessor other than the move before it' AS problem, version_id
                FROM ordered WHERE previous_version_id IS DISTINCT FROM before
                UNION ALL
                SELECT o.adapter_id, o.alias, 'the alias points elsewhere than its last recorded move', al.version_id
                FROM ordered o JOIN aliases al ON al.adapter_id = o.adapter_id AND al.alias = o.alias
                WHERE o.from_end = 1 AND o.version_id <> al.version_id
                UNION ALL
                SELECT al.adapter_id, al.alias, 'the alias has no recorded move', al.version_id
                FROM aliases al WHERE NOT EXISTS (SELECT 1 FROM alias_events e WHERE e.adapter_id = al.adapter_id AND e.alias = al.alias)
            )
            SELECT a.name || '@' || b.alias, b.problem, b.version_id FROM broken b JOIN adapters a ON a.id = b.adapter_id
            ORDER BY 1, 2
            """).map {
            CatalogFinding(check: "alias_history", subject: try $0.decode(String.self, at: 0), detail: try $0.decode(String.self, at: 1),
                           versionIDs: [try $0.decode(Int64.self, at: 2)])
        }
    }

    /// The audit chain: positions 1, 2, 3, … without gaps, each event's `prev_hash` the hash of the one before, and
    /// each hash what its content hashes to. A rewritten, deleted or inserted event breaks it; the first break is
    /// reported (everything after it is then unverifiable).
    func auditChain() throws -> [CatalogFinding] {
        try connection.query("""
            SELECT chain_seq, id, problem FROM (
                SELECT chain_seq, id, CASE
                    WHEN chain_seq <> row_number() OVER w THEN 'a gap or a duplicate in the chain before position ' || chain_seq
                    WHEN prev_hash <> coalesce(lag(hash) OVER w, repeat('0', 64)) THEN 'its prev_hash is not the hash of the event before it'
                    WHEN hash <> audit_event_hash(prev_hash, chain_seq, at, actor, action, subject, details) THEN 'its content does not hash to its recorded hash'
                    END AS problem
                FROM audit_events WINDOW w AS (ORDER BY chain_seq)
            ) chain WHERE problem IS NOT NULL ORDER BY chain_seq LIMIT 1
            """).map {
            CatalogFinding(check: "audit_chain", subject: "audit event \(try $0.decode(Int64.self, at: 1)) (position \(try $0.decode(Int64.self, at: 0)))",
                           detail: try $0.decode(String.self, at: 2) + ": the audit trail was changed behind the registry's back",
                           versionIDs: [])
        }
    }

    /// Aliases pointing at any of these versions, as `name@alias`.
    public func aliases(pointingAt versionIDs: [Int64]) throws -> [String] {
        try connection.query("""
            SELECT a.name || '@' || al.alias FROM aliases al JOIN adapters a ON a.id = al.adapter_id
            WHERE al.version_id = ANY(\(versionIDs.map { Int($0) })) ORDER BY 1
            """).map { try $0.decode(String.self, at: 0) }
    }

    /// Versions descending from any of these (merged from them, directly or not), as ids.
    public func descendants(of versionIDs: [Int64]) throws -> [Int64] {
        try connection.query("""
            WITH RECURSIVE walk(id, depth) AS (
                SELECT unnest(\(versionIDs.map { Int($0) }))::bigint, 0
                UNION
                SELECT e.child_version_id, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.parent_version_id = w.id WHERE w.depth < 10000
            )
            SELECT DISTINCT id FROM walk WHERE depth > 0 ORDER BY id
            """).map { try $0.decode(Int64.self, at: 0) }
    }
}
