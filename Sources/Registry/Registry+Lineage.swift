import Foundation
import Postgres

extension Registry {
    /// The ancestors (or, `.descendants`, every descendant) of a version, walked with one recursive query.
    public func lineage(of version: AdapterVersion, direction: LineageGraph.Direction = .ancestors) throws -> LineageGraph {
        try pool.withConnection { try Self.lineage($0, start: version.id, direction: direction) }
    }

    /// The recursive walk (public for benchmarks: EXPLAIN ANALYZE); `UNION` (not `UNION ALL`) with the depth kept per path stops revisiting a node at a
    /// depth already seen, and the outer `min(depth)` keeps each version once.
    public static func lineageQuery(start: Int64, direction: LineageGraph.Direction) -> SQLQuery {
        let (next, from) = direction == .ancestors ? ("parent_version_id", "child_version_id") : ("child_version_id", "parent_version_id")
        return """
            WITH RECURSIVE walk(id, depth) AS (
                SELECT \(start)::bigint, 0
                UNION
                SELECT e.\(unsafeRaw: next), w.depth + 1 FROM lineage_edges e JOIN walk w ON e.\(unsafeRaw: from) = w.id
                WHERE w.depth < 10000
            )
            SELECT w.id, a.name, v.version, v.kind, min(w.depth) AS depth
            FROM walk w JOIN adapter_versions v ON v.id = w.id JOIN adapters a ON a.id = v.adapter_id
            GROUP BY w.id, a.name, v.version, v.kind
            """
    }

    static func lineage(_ connection: PostgresConnection, start: Int64, direction: LineageGraph.Direction) throws -> LineageGraph {
        let nodes = try connection.query(lineageQuery(start: start, direction: direction)).map {
            LineageNode(versionID: try $0.decode(Int64.self, at: 0), name: try $0.decode(String.self, at: 1),
                        version: try $0.decode(Int.self, at: 2), kind: try $0.decode(String.self, at: 3),
                        depth: try $0.decode(Int.self, at: 4))
        }
        let ids = nodes.map { Int($0.versionID) }
        let edges = try connection.query("""
            SELECT e.parent_version_id, e.child_version_id, e.weight, e.merge_id, m.method
            FROM lineage_edges e JOIN merges m ON m.id = e.merge_id
            WHERE e.child_version_id = ANY(\(ids)) AND e.parent_version_id = ANY(\(ids))
            """).map {
            LineageEdge(parentID: try $0.decode(Int64.self, at: 0), childID: try $0.decode(Int64.self, at: 1),
                        weight: try $0.decode(Double.self, at: 2), mergeID: try $0.decode(Int64.self, at: 3),
                        method: try $0.decode(String.self, at: 4))
        }
        return LineageGraph(start: start, direction: direction, nodes: nodes, edges: edges)
    }
}
