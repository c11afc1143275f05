import Postgres

/// Lineage edges (parent → child, weighted, per merge) and the recursive walks over them.
public struct LineageStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The recursive walk (public for benchmarks: EXPLAIN ANALYZE); `UNION` (not `UNION ALL`) with the depth kept
    /// per path stops revisiting a node at a depth already seen, and the outer `min(depth)` keeps each version once.
    public static func walkQuery(start: Int64, direction: LineageDirection) -> SQLQuery {
        let (next, from) = direction == .ancestors ? ("parent_version_id", "child_version_id") : ("child_version_id", "parent_version_id")
        return """
            WITH RECURSIVE walk(id, depth) AS (
                SELECT \(start)::bigint, 0
                UNION
                SELECT e.\(unsafeRaw: next), w.depth + 1 FROM lineage_edges e JOIN walk w ON e.\(unsafeRaw: from) = w.id
                WHERE w.depth < 10000
            )
            SELECT w.id, a.name, v.version, v.kind, min(w.depth) AS depth, v.r, v.canonical_digest
            FROM walk w JOIN adapter_versions v ON v.id = w.id JOIN adapters a ON a.id = v.adapter_id
            GROUP BY w.id, a.name, v.version, v.kind, v.r, v.canonical_digest
            """
    }

    /// Every version reached from `start` (itself at depth 0), each once at its smallest depth.
    public func walk(from start: Int64, direction: LineageDirection) throws -> [LineageNode] {
        try connection.query(Self.walkQuery(start: start, direction: direction)).map {
            LineageNode(versionID: try $0.decode(Int64.self, at: 0), name: try $0.decode(String.self, at: 1),
                        version: try $0.decode(Int.self, at: 2), kind: try $0.decode(VersionKind.self, at: 3),
                        depth: try $0.decode(Int.self, at: 4), rank: try $0.decode(Int.self, at: 5),
                        canonicalDigest: try $0.decode(String.self, at: 6))
        }
    }

    /// The edges between the given versions, with the method of the merge that made each.
    public func edges(among versionIDs: [Int64]) throws -> [LineageEdge] {
        let ids = versionIDs.map { Int($0) }
        return try connection.query("""
            SELECT e.parent_version_id, e.child_version_id, e.weight, e.merge_id, m.method
            FROM lineage_edges e JOIN merges m ON m.id = e.merge_id
            WHERE e.child_version_id = ANY(\(ids)) AND e.parent_version_id = ANY(\(ids))
            """).map {
            LineageEdge(parentID: try $0.decode(Int64.self, at: 0), childID: try $0.decode(Int64.self, at: 1),
                        weight: try $0.decode(Double.self, at: 2), mergeID: try $0.decode(Int64.self, at: 3),
                        method: try $0.decode(String.self, at: 4))
        }
    }

    /// The distinct direct parents of a version.
    public func parents(of versionID: Int64) throws -> [Int64] {
        try connection.query("SELECT DISTINCT parent_version_id FROM lineage_edges WHERE child_version_id = \(versionID) ORDER BY 1")
            .map { try $0.decode(Int64.self, at: 0) }
    }
}
