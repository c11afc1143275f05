import Catalog
import QuiverCore

/// A lineage graph as a standalone SVG picture (`quiver lineage --format svg`, and inline in `quiver serve`'s
/// version pages): versions as boxes with `name@version`, kind, rank and a short digest, laid out by
/// ``LineageLayout``; edges as arrows labelled with the merge method and the parent's weight.
///
/// Pure and deterministic: the same graph gives the same bytes. Every text from the catalog is escaped
/// (``MarkupText``), so no adapter name, method or link can add markup; long names are shortened (the full name is
/// in the box's `<title>`).
public struct LineageSVG: Sendable {
    /// Where a version's box links to (the server's version page), or nil for no link.
    public typealias Link = @Sendable (LineageNode) -> String?

    public var maxNodes: Int
    public var metrics: LineageLayout.Metrics
    public var link: Link?
    /// The picture's accessible title.
    public var title: String?

    public init(maxNodes: Int = 40, metrics: LineageLayout.Metrics = .init(), title: String? = nil, link: Link? = nil) {
        self.maxNodes = maxNodes
        self.metrics = metrics
        self.title = title
        self.link = link
    }

    /// The longest name@version shown in full in a box; longer ones end in "…".
    static let labelLimit = 26

    private enum Palette {
        static let trainedFill = "#eef6ee", trainedStroke = "#3f7d4a"
        static let mergedFill = "#eef2fb", mergedStroke = "#3b5ba5"
        static let startStroke = "#c2410c"
        static let edge = "#6b7280", edgeText = "#374151", muted = "#4b5563", text = "#111827"
    }

    public func render(_ graph: LineageGraph) -> String {
        render(nodes: graph.nodes, edges: graph.edges, start: graph.start)
    }

    /// The picture of `nodes` and the `edges` between them, `start` highlighted.
    public func render(nodes: [LineageNode], edges: [LineageEdge], start: Int64) -> String {
        let layout = LineageLayout(nodes: nodes, edges: edges, start: start, maxNodes: maxNodes, metrics: metrics)
        let note = layout.omitted > 0 ? 28.0 : 0
        let width = Self.number(layout.width), height = Self.number(layout.height + note)
        let heading = title ?? (nodes.first { $0.versionID == start }.map { "Lineage of \($0.label)" } ?? "Lineage")
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" role="img" aria-label="\(MarkupText.escape(heading))" \
            font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">

            """
        out += "<title>\(MarkupText.escape(heading))</title>\n"
        out += """
            <defs><marker id="quiver-lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
            orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="\(Palette.edge)"/></marker></defs>

            """
        out += "<g class=\"edges\">\n"
        for link in layout.links { out += edge(link) }
        out += "</g>\n<g class=\"nodes\">\n"
        for box in layout.boxes { out += self.box(box, isStart: box.node.versionID == start) }
        out += "</g>\n"
        if layout.omitted > 0 {
            let text = "+\(layout.omitted) more version\(layout.omitted == 1 ? "" : "s") not shown"
            out += "<text class=\"omitted\" x=\"\(Self.number(metrics.margin))\" y=\(Self.quoted(layout.height + 14)) fill=\"\(Palette.muted)\" font-style=\"italic\">\(text)</text>\n"
        }
        out += "</svg>"
        return out
    }

    private func box(_ box: LineageLayout.Box, isStart: Bool) -> String {
        let node = box.node
        let merged = node.kind == .merged
        let fill = merged ? Palette.mergedFill : Palette.trainedFill
        let stroke = isStart ? Palette.startStroke : (merged ? Palette.mergedStroke : Palette.trainedStroke)
        let x = box.x, y = box.y, w = metrics.nodeWidth, h = metrics.nodeHeight
        let label = node.label.count > Self.labelLimit ? String(node.label.prefix(Self.labelLimit - 1)) + "…" : node.label
        let digest = node.canonicalDigest.isEmpty ? "" : "sha256:" + String(node.canonicalDigest.prefix(12))
        let facts = "\(node.kind.rawValue)" + (node.rank > 0 ? " · r\(node.rank)" : "")
        var out = ""
        let href = link?(node)
        if let href { out += "<a href=\"\(MarkupText.escape(href))\">" }
        out += "<g class=\"node \(node.kind.rawValue)\(isStart ? " start" : "")\">"
        out += "<title>\(MarkupText.escape(node.label)) (\(node.kind.rawValue)\(node.rank > 0 ? ", rank \(node.rank)" : "")\(digest.isEmpty ? "" : ", \(digest)"))</title>"
        out += "<rect x=\(Self.quoted(x)) y=\(Self.quoted(y)) width=\(Self.quoted(w)) height=\(Self.quoted(h)) rx=\"\(merged ? 4 : 14)\" "
        out += "fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(isStart ? 3 : 1.5)\"/>"
        out += "<text class=\"label\" x=\(Self.quoted(x + 10)) y=\(Self.quoted(y + 19)) font-weight=\"bold\" fill=\"\(Palette.text)\">\(MarkupText.escape(label))</text>"
        out += "<text class=\"facts\" x=\(Self.quoted(x + 10)) y=\(Self.quoted(y + 35)) fill=\"\(Palette.muted)\">\(MarkupText.escape(facts))</text>"
        if !digest.isEmpty {
            out += "<text class=\"digest\" x=\(Self.quoted(x + 10)) y=\(Self.quoted(y + 51)) fill=\"\(Palette.muted)\" "
            out += "font-family=\"DejaVu Sans Mono, monospace\" font-size=\"11\">\(MarkupText.escape(digest))</text>"
        }
        out += "</g>"
        if href != nil { out += "</a>" }
        return out + "\n"
    }

    private func edge(_ link: LineageLayout.Link) -> String {
        let points = link.points
        guard let first = points.first, let last = points.last else { return "" }
        // A smooth curve through the points: horizontal tangents at every point (columns are vertical).
        var path = "M\(Self.number(first.x)),\(Self.number(first.y))"
        for (a, b) in zip(points, points.dropFirst()) {
            let bend = (b.x - a.x) / 2
            path += " C\(Self.number(a.x + bend)),\(Self.number(a.y)) \(Self.number(b.x - bend)),\(Self.number(b.y)) \(Self.number(b.x)),\(Self.number(b.y))"
        }
        let label = link.edges.map { "\($0.method) \(NumberFormat.significant($0.weight, 3))" }.joined(separator: ", ")
        // The label sits on the last segment, near the child, where the ports keep edges apart.
        // The label sits on the last segment's curve at t = 0.6 (x 57.6 %, y 64.8 % of the way), near the child,
        // where the ports keep edges apart; a white halo keeps it readable over lines.
        let before = points[points.count - 2]
        let lx = before.x + (last.x - before.x) * 0.576, ly = before.y + (last.y - before.y) * 0.648 + 4
        // A white plate under the label, sized by an estimate of the text's width (about 5.8 px a character at
        // 11 px), so the line does not strike through it.
        let plateWidth = Double(label.count) * 5.8 + 8
        var out = "<g class=\"edge\"><path d=\"\(path)\" fill=\"none\" stroke=\"\(Palette.edge)\" stroke-width=\"1.4\" marker-end=\"url(#quiver-lineage-arrow)\"/>"
        out += "<rect x=\(Self.quoted(lx - plateWidth / 2)) y=\(Self.quoted(ly - 11)) width=\(Self.quoted(plateWidth)) height=\"15\" rx=\"3\" "
        out += "fill=\"#ffffff\" fill-opacity=\"0.92\"/>"
        out += "<text class=\"weight\" x=\(Self.quoted(lx)) y=\(Self.quoted(ly)) text-anchor=\"middle\" font-size=\"11\" fill=\"\(Palette.edgeText)\">"
        out += "\(MarkupText.escape(label))</text></g>\n"
        return out
    }

    /// A coordinate with at most one decimal, no trailing zeros: stable text for stable bytes.
    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func quoted(_ value: Double) -> String { "\"\(number(value))\"" }
}
