import Postgres

/// Lineage edges (parent → child, weighted, per merge) and the reads that walk them. Each read is one statement:
/// the recursive walk and everything read along it come back in one round trip.
public struct LineageStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The walk from `start`, as common table expressions: `walk` (the recursion), `nodes` (id, smallest depth) and
    /// `edges` (the lineage edges among the nodes). `UNION` (not `UNION ALL`) with the depth kept per path stops
    /// revisiting a node at a depth already seen; `nodes` keeps each version once, at its smallest depth. Every step
    /// is an index probe (the primary key for parents, `lineage_edges_parent_idx` for children), so the cost grows
    /// with the lineage, not with the catalog.
    static func walk(start: Int64, direction: LineageDirection) -> SQLQuery {
        let (next, from) = direction == .ancestors ? ("parent_version_id", "child_version_id") : ("child_version_id", "parent_version_id")
        return """
            WITH RECURSIVE walk(id, depth) AS (
                SELECT \(start)::bigint, 0
                UNION
                SELECT e.\(unsafeRaw: next), w.depth + 1 FROM lineage_edges e JOIN walk w ON e.\(unsafeRaw: from) = w.id
                WHERE w.depth < 10000
            ),
            nodes AS MATERIALIZED (SELECT id, min(depth) AS depth FROM walk GROUP BY id),
            node_ids AS MATERIALIZED (SELECT array_agg(id) AS ids FROM nodes),
            edges AS MATERIALIZED (
                SELECT e.* FROM lineage_edges e JOIN nodes c ON c.id = e.child_version_id JOIN nodes p ON p.id = e.parent_version_id
            )

            """
    }

    static let nodeColumns = ColumnList([
        ("n.id", "id"), ("a.name", "name"), ("v.version", "version"), ("v.kind", "kind"), ("n.depth", "depth"),
        ("v.r", "r"), ("v.canonical_digest", "canonical_digest"),
    ])
    static let nodeFrom = "nodes n JOIN adapter_versions v ON v.id = n.id JOIN adapters a ON a.id = v.adapter_id"
    static let edgeColumns = ColumnList([
        ("e.parent_version_id", "parent_version_id"), ("e.child_version_id", "child_version_id"), ("e.weight", "weight"),
        ("e.merge_id", "merge_id"), ("m.method", "method"),
    ])
    static let edgeFrom = "edges e JOIN merges m ON m.id = e.merge_id"
    /// The graph's two JSON columns, `nodes` and `edges`, over ``walk(start:direction:)``'s expressions.
    static let graphColumns = """
        (SELECT json_agg(\(nodeColumns.jsonRow)) FROM \(nodeFrom)) AS nodes,
        (SELECT json_agg(\(edgeColumns.jsonRow)) FROM \(edgeFrom)) AS edges
        """

    /// The lineage graph's statement: nodes and edges, each a JSON column.
    public static func graphQuery(start: Int64, direction: LineageDirection) -> SQLQuery {
        var query = walk(start: start, direction: direction)
        query.append(SQLQuery(unsafeSQL: "SELECT " + graphColumns))
        return query
    }

    /// Every version reached from `start` (itself at depth 0), each once at its smallest depth, and the edges
    /// among them with the method of the merge that made each: one statement.
    /// The nodes and edges come from the stored lineage parts when they are complete, without a walk in either
    /// direction (the ancestors are listed in the start's part, the descendants found by the index on those lists).
    public func graph(from start: Int64, direction: LineageDirection) throws -> (nodes: [LineageNode], edges: [LineageEdge]) {
        try storedGraph(from: start, direction: direction) ?? walkedGraph(from: start, direction: direction)
    }

    /// ``graph(from:direction:)`` by the recursive walk over the lineage edges.
    func walkedGraph(from start: Int64, direction: LineageDirection) throws -> (nodes: [LineageNode], edges: [LineageEdge]) {
        let row = try connection.query(Self.graphQuery(start: start, direction: direction)).single()
        return (try Self.nodes(row), try Self.edges(row))
    }

    /// The audit's statement: the ancestors of `subjectID` with their edges, the trained roots (versions without a
    /// parent) with their configs, the merges that produced any of them with their inputs, and every alias move to
    /// or from one of them or of the subject's adapter; each a JSON column. Labels (`name@version`) and methods are
    /// joined in Swift from the nodes and merges already read, not once per row here.
    public static func auditQuery(subjectID: Int64) -> SQLQuery {
        let root = ColumnList(VersionStore.columnList.fields.map { ($0.expression, $0.name) } + [("v.config::text", "config")])
        let inLineage = "m.output_version_id = ANY((SELECT ids FROM node_ids)::bigint[])"
        var query = walk(start: subjectID, direction: .ancestors)
        query.append(SQLQuery(unsafeSQL: """
            SELECT (SELECT json_agg(\(nodeColumns.jsonRow)) FROM \(nodeFrom)) AS nodes,
                   (SELECT json_agg(\(auditEdgeColumns.jsonRow)) FROM edges e) AS edges,
                   (SELECT json_agg(\(root.jsonRow)) FROM \(VersionStore.from) JOIN nodes n ON n.id = v.id
                        WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.child_version_id = n.id)) AS roots,
                   (SELECT json_agg(\(MergeLog.auditColumns.jsonRow) ORDER BY m.id) FROM merges m WHERE \(inLineage)) AS merges,
                   (SELECT json_agg(\(MergeLog.auditInputColumns.jsonRow) ORDER BY mi.merge_id, mi.position)
                        FROM merges m JOIN merge_inputs mi ON mi.merge_id = m.id WHERE \(inLineage)) AS merge_inputs,
                   (SELECT json_agg(\(AliasStore.eventColumns.jsonRow) ORDER BY e.at, e.id) FROM \(AliasStore.eventFrom)
                        WHERE e.version_id = ANY((SELECT ids FROM node_ids)::bigint[]) OR e.previous_version_id = ANY((SELECT ids FROM node_ids)::bigint[])
                           OR e.adapter_id = (SELECT adapter_id FROM adapter_versions
            """))
        query.append(" WHERE id = \(subjectID))) AS aliases")
        return query
    }

    /// The audit's edges: ``edgeColumns`` without the merge's method (taken from the merges read beside them).
    static let auditEdgeColumns = ColumnList(edgeColumns.fields.filter { $0.name != "method" }.map { ($0.expression, $0.name) })

    /// What ``auditQuery(subjectID:)`` reads, in one round trip. Should a merge's input or an edge's merge be missing
    /// from what the statement returned (a catalog edited by hand), merges and edges are read again the long way.
    public func audit(subjectID: Int64) throws -> AuditRecords {
        let row = try connection.query(Self.auditQuery(subjectID: subjectID)).single()
        let rootColumns = VersionStore.columnList.names + ["config"]
        let roots = try PostgresRows(jsonRows: try row.cell(named: "roots"), columns: rootColumns).map {
            AuditRecords.Root(version: try VersionStore.decode($0), config: try $0.decode(String.self, column: "config"))
        }
        let nodes = try Self.nodes(row)
        let labels = Dictionary(nodes.map { ($0.versionID, "\($0.name)@\($0.version)") }, uniquingKeysWith: { first, _ in first })
        var inputs: [Int64: [(versionID: Int64, weight: Double)]] = [:]
        for input in try PostgresRows(jsonRows: try row.cell(named: "merge_inputs"), columns: MergeLog.auditInputColumns.names) {
            inputs[try input.decode(Int64.self, at: 0), default: []].append((try input.decode(Int64.self, at: 1), try input.decode(Double.self, at: 2)))
        }
        var merges: [MergeRecord]? = []
        for merge in try PostgresRows(jsonRows: try row.cell(named: "merges"), columns: MergeLog.auditColumns.names) {
            guard let record = try MergeLog.record(merge, inputs: inputs[try merge.decode(Int64.self, column: "id")] ?? [], labels: labels) else {
                merges = nil
                break
            }
            merges?.append(record)
        }
        let methods = Dictionary((merges ?? []).map { ($0.id, $0.method) }, uniquingKeysWith: { first, _ in first })
        var edges: [LineageEdge]? = []
        for edge in try PostgresRows(jsonRows: try row.cell(named: "edges"), columns: Self.auditEdgeColumns.names) {
            let mergeID = try edge.decode(Int64.self, at: 3)
            guard let method = methods[mergeID] else {
                edges = nil
                break
            }
            edges?.append(LineageEdge(parentID: try edge.decode(Int64.self, at: 0), childID: try edge.decode(Int64.self, at: 1),
                                      weight: try edge.decode(Double.self, at: 2), mergeID: mergeID, method: method))
        }
        return AuditRecords(
            nodes: nodes, edges: try edges ?? graph(from: subjectID, direction: .ancestors).edges, roots: roots,
            merges: try merges ?? MergeLog(connection).records(producing: nodes.map(\.versionID)),
            aliasHistory: try PostgresRows(jsonRows: try row.cell(named: "aliases"), columns: AliasStore.eventColumns.names).map(AliasStore.event))
    }

    /// The audit of the version `key` names, in one statement (two for a config digest): the reference resolved
    /// (its candidates, best first, as ``VersionStore/matching(_:)`` orders them), and everything along the first candidate's lineage read from
    /// the stored lineage parts (migration 0008): one index probe per version, no recursive walk; the alias history
    /// live (the moves of the lineage's adapters' aliases that touch it: an alias points at a version of its own
    /// adapter). The records are nil when nothing matches. Should the parts be incomplete (a version whose part its
    /// transaction has not yet committed, or a catalog edited by hand), the lineage is read the long way instead
    /// (``audit(subjectID:)``).
    public func audit(_ key: VersionKey) throws -> (candidates: [AdapterVersion], records: AuditRecords?) {
        let (candidates, stored) = try storedAudit(key)
        guard let subject = candidates.first else { return (candidates, nil) }
        return (candidates, try stored ?? audit(subjectID: subject.id))
    }

    /// ``audit(_:)`` without the long way: the records are nil when nothing matches or when the stored parts of
    /// the lineage are incomplete.
    func storedAudit(_ key: VersionKey) throws -> (candidates: [AdapterVersion], records: AuditRecords?) {
        let found = try Self.decodeStoredAudit(connection.query(Self.auditQuery(key)).single())
        guard found.candidates.isEmpty, case .digest(let digest) = key else { return found }
        // Not a canonical or weights digest: a config digest, resolved on its own (see VersionStore.candidates).
        let candidates = try VersionStore(connection).matching(digest: digest)
        guard let first = candidates.first else { return ([], nil) }
        return (candidates, try Self.decodeStoredAudit(connection.query(Self.auditQuery(.id(first.id))).single()).records)
    }

    /// ``auditQuery(_:)``'s row decoded: the candidates, and the records of the first one's lineage (nil when none
    /// matched, or when the stored parts are incomplete). What ``storedAudit(_:)`` does after the round trip,
    /// apart for the benchmark to time.
    public static func decodeStoredAudit(_ row: PostgresRow) throws -> (candidates: [AdapterVersion], records: AuditRecords?) {
        let candidates = try PostgresRows(jsonRows: try row.cell(at: 0), columns: VersionStore.columnList.names).map(VersionStore.decode)
        guard let subject = candidates.first else { return (candidates, nil) }
        return (candidates, try auditRecords(subjectID: subject.id, row))
    }

    /// ``audit(_:)``'s statement. Its columns by position: the candidates; the versions the subject's lineage
    /// should have and the parts found for them; nodes, roots, edges, merges and merge inputs, each the stored
    /// parts' rows joined; the alias history. The parts are aggregated in one scan of their index, not kept whole
    /// and scanned once per column (that took a fifth of the statement's time at depth 50).
    public static func auditQuery(_ key: VersionKey) -> SQLQuery {
        var query = SQLQuery(unsafeSQL: auditHead)
        query.append(VersionStore.candidates(key))
        query.append(SQLQuery(unsafeSQL: auditTail))
        return query
    }

    /// ``auditQuery(_:)``'s text before and after the candidates' statement (made once).
    private static let auditHead = """
        WITH candidates AS MATERIALIZED (
            SELECT c.n, v.id, v.adapter_id, \(VersionStore.columnList.jsonRow) AS row FROM \(VersionStore.from) JOIN (

        """
    private static let auditTail: String = {
        let ids = "ANY((SELECT ids FROM ids)::bigint[])"
        return """
                ) c ON c.id = v.id
            ),
            subject AS MATERIALIZED (
                SELECT c.id, c.adapter_id, p.ancestors FROM candidates c LEFT JOIN lineage_parts p ON p.version_id = c.id WHERE c.n = 1
            ),
            ids AS MATERIALIZED (SELECT s.id || s.ancestors AS ids FROM subject s),
            parts AS MATERIALIZED (
                SELECT count(*) AS found, array_agg(DISTINCT p.adapter_id) AS adapters,
                       '[' || string_agg(p.node, ',') || ']' AS nodes, '[' || string_agg(p.root, ',') || ']' AS roots,
                       '[' || string_agg(p.edges, ',') || ']' AS edges, '[' || string_agg(p.merges, ',') || ']' AS merges,
                       '[' || string_agg(p.inputs, ',') || ']' AS inputs
                FROM lineage_parts p WHERE p.version_id = \(ids)
            ),
            events AS MATERIALIZED (
                SELECT e.* FROM alias_events e WHERE e.adapter_id = ANY((SELECT adapters FROM parts)::bigint[])
                    AND (e.version_id = \(ids) OR e.previous_version_id = \(ids) OR e.adapter_id = (SELECT adapter_id FROM subject))
            )
            SELECT (SELECT json_agg(row ORDER BY n) FROM candidates),
                   (SELECT cardinality(ids) FROM ids),
                   g.found, g.nodes, g.roots, g.edges, g.merges, g.inputs,
                   (SELECT json_agg(\(AliasStore.eventColumns.jsonRow) ORDER BY e.at, e.id) FROM \(AliasStore.eventFrom(events: "events")))
            FROM parts g
            """
    }()

    /// A stored part's node: ``nodeColumns`` without the depth, which depends on where a walk starts.
    static let partNodeColumns = nodeColumns.names.filter { $0 != "depth" }

    /// The records of ``auditQuery(_:)``'s row; nil when an edge's merge, or a version a merge names, is not among
    /// them. Depths are the shortest distances from the subject along the edges, as the recursive walk finds them.
    private static func auditRecords(subjectID: Int64, _ row: PostgresRow) throws -> AuditRecords? {
        guard try row.decode(Int?.self, at: 1) == (try row.decode(Int.self, at: 2)) else { return nil }
        guard let (nodes, edges) = try partsGraph(start: subjectID, direction: .ancestors, nodes: try row.cell(at: 3),
                                                  edges: try row.cell(at: 5)) else { return nil }
        let labels = Dictionary(nodes.map { ($0.versionID, $0.label) }, uniquingKeysWith: { first, _ in first })
        var inputs: [Int64: [(versionID: Int64, weight: Double)]] = [:]
        for input in try PostgresRows(jsonRows: try row.cell(at: 7), columns: MergeLog.auditInputColumns.names) {
            inputs[try input.decode(Int64.self, at: 0), default: []].append((try input.decode(Int64.self, at: 1), try input.decode(Double.self, at: 2)))
        }
        var merges: [MergeRecord] = []
        for merge in try PostgresRows(jsonRows: try row.cell(at: 6), columns: MergeLog.auditColumns.names) {
            guard let record = try MergeLog.record(merge, inputs: inputs[try merge.decode(Int64.self, at: 0)] ?? [], labels: labels) else { return nil }
            merges.append(record)
        }
        merges.sort { $0.id < $1.id }
        let roots = try PostgresRows(jsonRows: try row.cell(at: 4), columns: VersionStore.columnList.names + ["config"]).map {
            AuditRecords.Root(version: try VersionStore.decode($0), config: try $0.decode(String.self, at: VersionStore.columnList.fields.count))
        }
        return AuditRecords(
            nodes: nodes, edges: edges, roots: roots, merges: merges,
            aliasHistory: try PostgresRows(jsonRows: try row.cell(at: 8), columns: AliasStore.eventColumns.names).map(AliasStore.event))
    }

    /// The graph from `start` in `direction` out of its versions' stored parts (joined `nodes` and `edges` rows):
    /// the edges among those versions (a descendant's part also holds edges from parents outside the graph, which
    /// are left out), each node at its shortest distance from `start` along them, as the recursive walk finds it;
    /// nil when a node is not reached that way (parts that disagree with each other: read the long way).
    private static func partsGraph(start: Int64, direction: LineageDirection, nodes nodeRows: PostgresCell,
                                   edges edgeRows: PostgresCell) throws -> (nodes: [LineageNode], edges: [LineageEdge])? {
        let rows = try PostgresRows(jsonRows: nodeRows, columns: partNodeColumns)
        // Each version's position among the rows: the walk below runs on positions, in flat arrays.
        var position = [Int64: Int](minimumCapacity: rows.count)
        var ids: [Int64] = []
        ids.reserveCapacity(rows.count)
        for row in rows {
            let id = try row.decode(Int64.self, at: 0)
            if position[id] == nil { position[id] = ids.count }
            ids.append(id)
        }
        let edgeRows = try PostgresRows(jsonRows: edgeRows, columns: edgeColumns.names)
        var edges: [LineageEdge] = []
        edges.reserveCapacity(edgeRows.count)
        // Each kept edge as (from, to) positions in the walk's direction.
        var steps: [(from: Int, to: Int)] = []
        steps.reserveCapacity(edgeRows.count)
        for row in edgeRows {
            let edge = try Self.edge(row)
            guard let parent = position[edge.parentID], let child = position[edge.childID] else { continue }
            edges.append(edge)
            steps.append(direction == .ancestors ? (child, parent) : (parent, child))
        }
        // The neighbours of position i are targets[offsets[i] ..< offsets[i + 1]].
        var offsets = [Int](repeating: 0, count: ids.count + 1)
        for step in steps { offsets[step.from + 1] += 1 }
        for i in 0..<ids.count { offsets[i + 1] += offsets[i] }
        var fill = offsets
        var targets = [Int](repeating: 0, count: steps.count)
        for step in steps {
            targets[fill[step.from]] = step.to
            fill[step.from] += 1
        }
        // Breadth first from the start: each position's depth is its shortest distance, -1 while unreached.
        var depths = [Int](repeating: -1, count: ids.count)
        var queue: [Int] = []
        queue.reserveCapacity(ids.count)
        if let first = position[start] {
            depths[first] = 0
            queue.append(first)
        }
        var head = 0
        while head < queue.count {
            let current = queue[head]
            head += 1
            for target in targets[offsets[current] ..< offsets[current + 1]] where depths[target] < 0 {
                depths[target] = depths[current] + 1
                queue.append(target)
            }
        }
        var nodes: [LineageNode] = []
        nodes.reserveCapacity(rows.count)
        for (index, node) in rows.enumerated() {
            let depth = depths[position[ids[index]] ?? index]
            guard depth >= 0 else { return nil }
            nodes.append(LineageNode(versionID: ids[index], name: try node.decode(String.self, at: 1), version: try node.decode(Int.self, at: 2),
                                     kind: try node.decode(VersionKind.self, at: 3), depth: depth, rank: try node.decode(Int.self, at: 4),
                                     canonicalDigest: try node.decode(String.self, at: 5)))
        }
        return (nodes, edges)
    }

    /// The graph's statement over the stored parts, in either direction; its columns: the versions the graph
    /// should have, the parts found for them, and their nodes and edges joined. The ancestors are the start's part's
    /// list (without the start's part, that is the start alone, and no part is found). The descendants are the
    /// versions whose part lists the start among its ancestors (`lineage_parts_ancestors_idx`, migration 0009),
    /// with the start's own part: the versions the graph should have are then the start and those found, and the
    /// start's part must be among them (``partsGraph(start:direction:nodes:edges:)`` then checks that every one is
    /// reached from the start along the parts' edges).
    public static func partsGraphQuery(start: Int64, direction: LineageDirection) -> SQLQuery {
        var query: SQLQuery
        if direction == .ancestors {
            query = """
                WITH ids AS MATERIALIZED (SELECT \(start)::bigint || (SELECT ancestors FROM lineage_parts WHERE version_id = \(start)) AS ids),
                nodes AS MATERIALIZED (SELECT unnest(ids) AS id FROM ids),
                parts AS MATERIALIZED (SELECT p.node, p.edges FROM lineage_parts p WHERE p.version_id = ANY((SELECT ids FROM ids)::bigint[]))
                """
        } else {
            query = """
                WITH parts AS MATERIALIZED (
                    SELECT p.version_id, p.node, p.edges FROM lineage_parts p
                    WHERE p.version_id = \(start) OR p.ancestors @> ARRAY[\(start)::bigint]
                ),
                nodes AS (SELECT \(start)::bigint AS id UNION ALL SELECT version_id FROM parts WHERE version_id <> \(start))
                """
        }
        query.append(SQLQuery(unsafeSQL: """

            SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM parts),
                   (SELECT '[' || string_agg(node, ',') || ']' FROM parts), (SELECT '[' || string_agg(edges, ',') || ']' FROM parts)
            """))
        return query
    }

    /// ``graph(from:direction:)`` from the stored parts; nil when any of the graph's versions has none, or one is not
    /// reached from the start along the edges the parts hold.
    func storedGraph(from start: Int64, direction: LineageDirection) throws -> (nodes: [LineageNode], edges: [LineageEdge])? {
        let row = try connection.query(Self.partsGraphQuery(start: start, direction: direction)).single()
        guard try row.decode(Int.self, at: 0) == (try row.decode(Int.self, at: 1)) else { return nil }
        return try Self.partsGraph(start: start, direction: direction, nodes: try row.cell(at: 2), edges: try row.cell(at: 3))
    }

    private static func nodes(_ row: PostgresRow) throws -> [LineageNode] {
        try PostgresRows(jsonRows: try row.cell(named: "nodes"), columns: nodeColumns.names).map {
            LineageNode(versionID: try $0.decode(Int64.self, at: 0), name: try $0.decode(String.self, at: 1),
                        version: try $0.decode(Int.self, at: 2), kind: try $0.decode(VersionKind.self, at: 3),
                        depth: try $0.decode(Int.self, at: 4), rank: try $0.decode(Int.self, at: 5),
                        canonicalDigest: try $0.decode(String.self, at: 6))
        }
    }

    private static func edges(_ row: PostgresRow) throws -> [LineageEdge] {
        try PostgresRows(jsonRows: try row.cell(named: "edges"), columns: edgeColumns.names).map(edge)
    }

    /// One row of ``edgeColumns``.
    private static func edge(_ row: PostgresRow) throws -> LineageEdge {
        LineageEdge(parentID: try row.decode(Int64.self, at: 0), childID: try row.decode(Int64.self, at: 1),
                    weight: try row.decode(Double.self, at: 2), mergeID: try row.decode(Int64.self, at: 3),
                    method: try row.decode(String.self, at: 4))
    }

    /// The distinct direct parents of a version.
    public func parents(of versionID: Int64) throws -> [Int64] {
        try connection.query("SELECT DISTINCT parent_version_id FROM lineage_edges WHERE child_version_id = \(versionID) ORDER BY 1")
            .map { try $0.decode(Int64.self, at: 0) }
    }
}

/// Everything an audit reads about a version's lineage (``LineageStore/audit(subjectID:)``).
public struct AuditRecords: Sendable {
    public struct Root: Sendable, Codable {
        public let version: AdapterVersion
        /// `adapter_config.json` as registered.
        public let config: String
    }

    public let nodes: [LineageNode]
    public let edges: [LineageEdge]
    /// The versions without a parent in the lineage, in no particular order.
    public let roots: [Root]
    /// The merges that produced versions in the lineage, by id.
    public let merges: [MergeRecord]
    /// Alias moves to or from versions in the lineage, and every move of the subject's adapter's aliases, in order.
    public let aliasHistory: [AliasEvent]
}
