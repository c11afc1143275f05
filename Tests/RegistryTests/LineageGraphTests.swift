import Foundation
import Registry
import Testing

@Suite struct LineageGraphTests {
    /// a, b, c trained; m1 = merge(a, b); m2 = merge(m1, c, a): a is reached twice.
    func diamond() -> LineageGraph {
        let nodes = [
            LineageNode(versionID: 5, name: "m2", version: 1, kind: .merged, depth: 0),
            LineageNode(versionID: 4, name: "m1", version: 1, kind: .merged, depth: 1),
            LineageNode(versionID: 3, name: "c", version: 1, kind: .trained, depth: 1),
            LineageNode(versionID: 1, name: "a", version: 1, kind: .trained, depth: 1),
            LineageNode(versionID: 2, name: "b", version: 2, kind: .trained, depth: 2),
        ]
        let edges = [
            LineageEdge(parentID: 1, childID: 4, weight: 0.5, mergeID: 10, method: "ties"),
            LineageEdge(parentID: 2, childID: 4, weight: 0.5, mergeID: 10, method: "ties"),
            LineageEdge(parentID: 4, childID: 5, weight: 1, mergeID: 11, method: "linear"),
            LineageEdge(parentID: 3, childID: 5, weight: -0.25, mergeID: 11, method: "linear"),
            LineageEdge(parentID: 1, childID: 5, weight: 1, mergeID: 11, method: "linear"),
        ]
        return LineageGraph(start: 5, direction: .ancestors, nodes: nodes, edges: edges)
    }

    @Test func rootsAreTheTrainedAdapters() {
        #expect(Set(diamond().roots.map(\.label)) == ["a@1", "b@2", "c@1"])
    }

    @Test func textShowsEveryPathWithWeights() throws {
        let text = try diamond().render(.text)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "m2@1 (merged)")
        #expect(lines.contains("  c@1 (trained)  weight -0.25 via linear merge #11"))
        #expect(lines.contains("    b@2 (trained)  weight 0.5 via ties merge #10"))
        #expect(lines.filter { $0.contains("a@1") }.count == 2)
    }

    @Test func jsonRoundTrips() throws {
        let graph = diamond()
        let decoded = try JSONDecoder().decode(LineageGraph.self, from: Data(try graph.render(.json).utf8))
        #expect(decoded == graph)
    }

    @Test func dotAndMermaidHaveEveryEdge() throws {
        let dot = try diamond().render(.dot)
        #expect(dot.hasPrefix("digraph lineage {"))
        #expect(dot.contains("v3 -> v5 [label=\"linear -0.25\"];"))
        let mermaid = try diamond().render(.mermaid)
        #expect(mermaid.contains("v2 -->|\"ties 0.5\"| v4"))
        #expect(mermaid.split(separator: "\n").filter { $0.contains("-->") }.count == 5)
    }
}

@Suite struct PromotionRuleTests {
    let tone = [Evaluation(suite: "tone", metric: "acc", value: 0.8, higherIsBetter: true)]
    let json = [Evaluation(suite: "json", metric: "loss", value: 0.3, higherIsBetter: false)]

    @Test func equalOrBetterOnEveryParentSuitePasses() {
        let candidate = [Evaluation(suite: "tone", metric: "acc", value: 0.8, higherIsBetter: true),
                         Evaluation(suite: "json", metric: "loss", value: 0.25, higherIsBetter: false)]
        #expect(PromotionRule.shortfalls(candidate: candidate, parents: [("tone@1", tone), ("json@1", json)]).isEmpty)
    }

    @Test func worseOrMissingIsRefused() {
        let candidate = [Evaluation(suite: "tone", metric: "acc", value: 0.79, higherIsBetter: true)]
        let shortfalls = PromotionRule.shortfalls(candidate: candidate, parents: [("tone@1", tone), ("json@1", json)])
        #expect(shortfalls.count == 2)
        #expect(shortfalls.contains { $0.suite == "tone" && $0.candidateValue == 0.79 })
        #expect(shortfalls.contains { $0.suite == "json" && $0.candidateValue == nil })
    }

    @Test func latestRecordCounts() {
        let candidate = [Evaluation(suite: "tone", metric: "acc", value: 0.5, higherIsBetter: true),
                         Evaluation(suite: "tone", metric: "acc", value: 0.9, higherIsBetter: true)]
        #expect(PromotionRule.shortfalls(candidate: candidate, parents: [("tone@1", tone)]).isEmpty)
    }
}
