import Foundation

extension Registry {
    /// The ancestors (or, `.descendants`, every descendant) of a version, walked with one recursive query.
    public func lineage(of version: AdapterVersion, direction: LineageGraph.Direction = .ancestors) throws -> LineageGraph {
        try catalog.read { try Self.lineage($0, start: version.id, direction: direction) }
    }

    static func lineage(_ session: CatalogSession, start: Int64, direction: LineageGraph.Direction) throws -> LineageGraph {
        let graph = try session.lineage.graph(from: start, direction: direction)
        return LineageGraph(start: start, direction: direction, nodes: graph.nodes, edges: graph.edges)
    }
}
