import Catalog
import Foundation
import QuiverCore

/// The ancestors (or descendants) of one version, and how to print them.
public struct LineageGraph: Sendable, Codable, Equatable {
    public typealias Direction = LineageDirection

    public let start: Int64
    public let direction: Direction
    public let nodes: [LineageNode]
    public let edges: [LineageEdge]

    public init(start: Int64, direction: Direction, nodes: [LineageNode], edges: [LineageEdge]) {
        self.start = start
        self.direction = direction
        self.nodes = nodes.sorted { ($0.depth, $0.name, $0.version) < ($1.depth, $1.name, $1.version) }
        self.edges = edges.sorted { ($0.childID, $0.parentID, $0.mergeID) < ($1.childID, $1.parentID, $1.mergeID) }
    }

    /// The trained adapters at the roots: nodes with no parent inside the graph.
    public var roots: [LineageNode] {
        let children = Set(edges.map(\.childID))
        return nodes.filter { !children.contains($0.versionID) }
    }

    /// `svg` is a standalone picture (``LineageSVG``: layered, roots on the left).
    public enum Format: String, Sendable, CaseIterable { case text, json, dot, mermaid, svg }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .text: renderText()
        case .json: try renderJSON()
        case .dot: renderDot()
        case .mermaid: renderMermaid()
        case .svg: LineageSVG().render(self)
        }
    }

    private var byID: [Int64: LineageNode] { Dictionary(nodes.map { ($0.versionID, $0) }, uniquingKeysWith: { a, _ in a }) }

    /// An indented tree from the start version; a version reached twice is printed once and then referred to.
    private func renderText() -> String {
        let nodesByID = byID
        var next: [Int64: [LineageEdge]] = [:]
        for edge in edges {
            let from = direction == .ancestors ? edge.childID : edge.parentID
            next[from, default: []].append(edge)
        }
        var lines: [String] = []
        var printed: Set<Int64> = []
        func visit(_ id: Int64, indent: String, via edge: LineageEdge?) {
            guard let node = nodesByID[id] else { return }
            var line = indent + node.label + " (\(node.kind))"
            if let edge { line += "  weight \(NumberFormat.compact(edge.weight)) via \(edge.method) merge #\(edge.mergeID)" }
            if printed.contains(id), next[id] != nil {
                lines.append(line + "  [see above]")
                return
            }
            lines.append(line)
            printed.insert(id)
            for child in next[id] ?? [] {
                let target = direction == .ancestors ? child.parentID : child.childID
                visit(target, indent: indent + "  ", via: child)
            }
        }
        visit(start, indent: "", via: nil)
        return lines.joined(separator: "\n")
    }

    private func renderJSON() throws -> String {
        try JSONOutput.string(self)
    }

    private func renderDot() -> String {
        var lines = ["digraph lineage {", "  rankdir=BT;"]
        for node in nodes {
            let shape = node.kind == .merged ? "box" : "ellipse"
            lines.append("  v\(node.versionID) [label=\"\(dotEscape(node.label))\", shape=\(shape)];")
        }
        for edge in edges {
            lines.append(
                "  v\(edge.parentID) -> v\(edge.childID) [label=\"\(dotEscape(edge.method)) \(NumberFormat.compact(edge.weight))\"];")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private func renderMermaid() -> String {
        var lines = ["graph BT"]
        for node in nodes {
            let text = mermaidEscape(node.label)
            lines.append(node.kind == .merged ? "  v\(node.versionID)[\"\(text)\"]" : "  v\(node.versionID)([\"\(text)\"])")
        }
        for edge in edges {
            lines.append("  v\(edge.parentID) -->|\"\(mermaidEscape(edge.method)) \(NumberFormat.compact(edge.weight))\"| v\(edge.childID)")
        }
        return lines.joined(separator: "\n")
    }

    private func dotEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    private func mermaidEscape(_ s: String) -> String { s.replacingOccurrences(of: "\"", with: "#quot;") }
}
