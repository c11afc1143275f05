import Catalog
import Foundation

/// Everything the version page shows about one version, read in one catalog transaction.
public struct VersionOverview: Sendable {
    /// The version, its modules, its adapter's aliases, its evaluations.
    public let detail: VersionDetail
    /// Every ancestor, down to the trained roots.
    public let ancestors: LineageGraph
    /// Every version merged from this one, directly or not.
    public let descendants: LineageGraph
    /// The merges that produced this version and its ancestors (method, every parameter, seed, software version).
    public let merges: [MergeRecord]
    /// Moves of this adapter's aliases, and of any alias to or from a version on the lineage, oldest first.
    public let aliasHistory: [AliasEvent]
    public let provenance: ProvenanceStatus

    public var version: AdapterVersion { detail.version }

    /// Both walks as one graph (the version in the middle), for one picture.
    public var graph: (nodes: [LineageNode], edges: [LineageEdge]) {
        var seen: Set<Int64> = []
        let nodes = (ancestors.nodes + descendants.nodes).filter { seen.insert($0.versionID).inserted }
        var edgeKeys: Set<LineageEdge> = []
        let edges = (ancestors.edges + descendants.edges).filter { edgeKeys.insert($0).inserted }
        return (nodes, edges)
    }

    /// The direct parents, with the edges that made this version from them.
    public var parents: [(node: LineageNode, edge: LineageEdge)] {
        let byID = Dictionary(ancestors.nodes.map { ($0.versionID, $0) }, uniquingKeysWith: { a, _ in a })
        return ancestors.edges.filter { $0.childID == version.id }.compactMap { edge in byID[edge.parentID].map { ($0, edge) } }
    }

    /// The direct children, with the edges that made them from this version.
    public var children: [(node: LineageNode, edge: LineageEdge)] {
        let byID = Dictionary(descendants.nodes.map { ($0.versionID, $0) }, uniquingKeysWith: { a, _ in a })
        return descendants.edges.filter { $0.parentID == version.id }.compactMap { edge in byID[edge.childID].map { ($0, edge) } }
    }
}

extension Registry {
    /// The version page's data: ``detail(of:)``, both lineage walks, the merges and alias moves on the way, and
    /// ``provenanceStatus(of:)``.
    public func overview(of version: AdapterVersion) throws -> VersionOverview {
        let (detail, ancestors, descendants, merges, history) = try catalog.read { session in
            let detail = try Self.detail(session, version)
            let ancestors = try Self.lineage(session, start: version.id, direction: .ancestors)
            let descendants = try Self.lineage(session, start: version.id, direction: .descendants)
            let ids = ancestors.nodes.map(\.versionID)
            return (detail, ancestors, descendants, try session.merges.records(producing: ids),
                    try session.aliases.history(versionIDs: ids, subjectID: version.id))
        }
        return VersionOverview(
            detail: detail, ancestors: ancestors, descendants: descendants, merges: merges, aliasHistory: history,
            provenance: try provenanceStatus(of: version))
    }
}
