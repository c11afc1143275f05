import Foundation
import QuiverCore
import Registry
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The SVG picture of a lineage: layout rules, text, escaping, size bounds, determinism. Pure: no services.
@Suite struct LineageSVGTests {
    static func digest(_ seed: Int) -> String { SHA256Digest.of(Array("node \(seed)".utf8)).hex }

    static func node(_ id: Int64, _ name: String, _ kind: VersionKind, depth: Int = 0, rank: Int = 8) -> LineageNode {
        LineageNode(versionID: id, name: name, version: 1, kind: kind, depth: depth, rank: rank, canonicalDigest: digest(Int(id)))
    }

    /// a, b, c trained; m1 = ties(a, b); m2 = linear(m1, c, a): a reaches m2 directly and through m1.
    static func diamond() -> LineageGraph {
        LineageGraph(start: 5, direction: .ancestors, nodes: [
            node(5, "m2", .merged, depth: 0, rank: 16), node(4, "m1", .merged, depth: 1, rank: 16),
            node(3, "c", .trained, depth: 1), node(1, "a", .trained, depth: 1), node(2, "b", .trained, depth: 2),
        ], edges: [
            LineageEdge(parentID: 1, childID: 4, weight: 0.5, mergeID: 10, method: "ties"),
            LineageEdge(parentID: 2, childID: 4, weight: 0.5, mergeID: 10, method: "ties"),
            LineageEdge(parentID: 4, childID: 5, weight: 1, mergeID: 11, method: "linear"),
            LineageEdge(parentID: 3, childID: 5, weight: -0.25, mergeID: 11, method: "linear"),
            LineageEdge(parentID: 1, childID: 5, weight: 1.0 / 3, mergeID: 11, method: "linear"),
        ])
    }

    static func wellFormed(_ xml: String) -> Bool {
        XMLParser(data: Data(xml.utf8)).parse()
    }

    @Test func rootsAreLeftAndEveryVersionIsRightOfItsDeepestParent() {
        let graph = Self.diamond()
        let layout = LineageLayout(nodes: graph.nodes, edges: graph.edges, start: graph.start)
        let column = Dictionary(uniqueKeysWithValues: layout.boxes.map { ($0.node.name, $0.column) })
        #expect(column == ["a": 0, "b": 0, "c": 0, "m1": 1, "m2": 2])
        let x = Dictionary(uniqueKeysWithValues: layout.boxes.map { ($0.node.versionID, $0.x) })
        for edge in graph.edges { #expect(x[edge.parentID]! < x[edge.childID]!) }
        // a → m2 skips a column: it passes through a placeholder point there.
        let skip = try! #require(layout.links.first { $0.parentID == 1 && $0.childID == 5 })
        #expect(skip.points.count == 3)
        #expect(layout.links.count == 5 && layout.omitted == 0)
    }

    @Test func barycenterOrderingRemovesAvoidableCrossings() {
        // By name the roots are a b c d and the merges m1 m2; m1 = (a, d), m2 = (b, c) crosses twice in that order.
        let nodes = [Self.node(1, "a", .trained), Self.node(2, "b", .trained), Self.node(3, "c", .trained), Self.node(4, "d", .trained),
                     Self.node(5, "m1", .merged), Self.node(6, "m2", .merged)]
        let edges = [(1, 5), (4, 5), (2, 6), (3, 6)].map { LineageEdge(parentID: Int64($0.0), childID: Int64($0.1), weight: 0.5, mergeID: Int64($0.1), method: "linear") }
        let layout = LineageLayout(nodes: nodes, edges: edges, start: 5)
        #expect(layout.crossings == 0)
        let y = Dictionary(uniqueKeysWithValues: layout.boxes.map { ($0.node.name, $0.y) })
        // Each merge's parents are next to each other.
        #expect(abs(y["a"]! - y["d"]!) < abs(y["a"]! - y["b"]!) || abs(y["b"]! - y["c"]!) < abs(y["b"]! - y["a"]!))
    }

    @Test func theSamePictureWhateverTheInputOrder() {
        let graph = Self.diamond()
        let svg = LineageSVG().render(graph)
        var generator = SplitMix(seed: 7)
        for _ in 0..<5 {
            let shuffled = LineageSVG().render(nodes: graph.nodes.shuffled(using: &generator), edges: graph.edges.shuffled(using: &generator), start: graph.start)
            #expect(shuffled == svg)
        }
    }

    @Test func boxesShowNameKindRankAndShortDigestAndEdgesShowMethodAndWeight() throws {
        let svg = try Self.diamond().render(.svg)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>"))
        #expect(Self.wellFormed(svg))
        for label in ["m2@1", "m1@1", "a@1", "b@1", "c@1"] { #expect(svg.contains(">\(label)</text>"), "\(label)") }
        #expect(svg.contains(">merged · r16</text>") && svg.contains(">trained · r8</text>"))
        #expect(svg.contains(">sha256:\(Self.digest(5).prefix(12))</text>"))
        #expect(svg.contains(">ties 0.5</text>") && svg.contains(">linear -0.25</text>") && svg.contains(">linear 0.333</text>"))
        #expect(svg.components(separatedBy: "class=\"node ").count - 1 == 5)
        #expect(svg.contains("class=\"node merged start\""), "the start version is marked")
    }

    @Test func hostileTextCannotAddMarkup() {
        let evil = "x\"><script>alert(1)</script><a href='javascript:alert(2)'>&amp;"
        let graph = LineageGraph(start: 2, direction: .ancestors, nodes: [
            Self.node(1, evil, .trained), Self.node(2, "ok", .merged),
        ], edges: [LineageEdge(parentID: 1, childID: 2, weight: 1, mergeID: 1, method: "<img src=x onerror=alert(3)>")])
        let svg = LineageSVG(title: evil) { "/ui/versions/\($0.label)\"><script>" }.render(graph)
        #expect(!svg.contains("<script") && !svg.contains("<img") && !svg.contains("<a href='"))
        #expect(svg.contains("&lt;script&gt;") && svg.contains("&lt;img src=x onerror=alert(3)&gt;") && svg.contains("&amp;amp;"))
        #expect(Self.wellFormed(svg), "\(svg)")
        let control = LineageSVG().render(nodes: [Self.node(1, "bell\u{07}name", .trained)], edges: [], start: 1)
        #expect(Self.wellFormed(control) && !control.contains("\u{07}"))
    }

    @Test func bigGraphsAreCappedWithANote() {
        // 99 trained versions merged into one: only 40 boxes, the merge among them, and a note for the rest.
        var nodes = [Self.node(1000, "blend", .merged)]
        var edges: [LineageEdge] = []
        for index in 1...99 {
            nodes.append(Self.node(Int64(index), "skill-\(index)", .trained, depth: 1))
            edges.append(LineageEdge(parentID: Int64(index), childID: 1000, weight: 0.01, mergeID: 1, method: "linear"))
        }
        let svg = LineageSVG(maxNodes: 40).render(nodes: nodes, edges: edges, start: 1000)
        #expect(svg.components(separatedBy: "class=\"node ").count - 1 == 40)
        #expect(svg.contains(">blend@1</text>"))
        #expect(svg.contains("+60 more versions not shown"))
        #expect(Self.wellFormed(svg))
        let height = Double(svg.firstMatch(of: /height="([0-9.]+)"/)!.1)!
        #expect(height < 40 * 80 + 100, "the picture's size is bounded by the cap")
    }

    @Test func longNamesAreShortenedWithTheFullNameInTheTitle() {
        let name = "team/a-very-long-adapter-name-for-testing"
        let svg = LineageSVG().render(nodes: [Self.node(1, name, .trained)], edges: [], start: 1)
        #expect(svg.contains("<title>\(name)@1 (trained, rank 8, sha256:"))
        #expect(svg.contains(">\(String("\(name)@1".prefix(25)))…</text>"))
    }
}

/// A seeded generator, so shuffles are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
