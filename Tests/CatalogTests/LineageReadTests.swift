import Foundation
import Postgres
import QuiverCore
import QuiverTesting
import Testing
@testable import Catalog

/// The one-statement lineage reads return what the stores' own statements return, row for row.
@Suite("Lineage reads in one statement")
struct LineageReadTests {
    @Test func auditMatchesTheStoresReadsOneByOne() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 2) }
            let subject = try #require(try catalog.read { try $0.versions.version(name: "adapter-2", number: 100) })
            // Alias moves: onto the subject's adapter, onto an ancestor, and one in the other group (not reported).
            try catalog.transaction { tx in
                let ancestor = try #require(try tx.versions.version(name: "adapter-2", number: 60))
                let other = try #require(try tx.versions.version(name: "adapter-1", number: 100))
                let adapterID = try #require(try tx.versions.adapterID(name: "adapter-2"))
                let otherID = try #require(try tx.versions.adapterID(name: "adapter-1"))
                _ = try tx.aliases.move(adapterID: adapterID, alias: "prod", to: ancestor.id, forced: false, by: "t\"e'st é")
                _ = try tx.aliases.move(adapterID: adapterID, alias: "prod", to: subject.id, forced: true, by: "test")
                _ = try tx.aliases.move(adapterID: otherID, alias: "prod", to: other.id, forced: false, by: "test")
            }
            try catalog.read { session in
                let records = try session.lineage.audit(subjectID: subject.id)
                let walked = try session.lineage.graph(from: subject.id, direction: .ancestors)
                #expect(Set(records.nodes) == Set(walked.nodes))
                #expect(Set(records.edges) == Set(walked.edges))
                #expect(records.nodes.count == 100 && records.edges.count == 100)
                let ids = records.nodes.map(\.versionID)

                let parented = Set(records.edges.map(\.childID))
                let rootIDs = ids.filter { !parented.contains($0) }
                #expect(rootIDs.count == 50)
                let configs = try session.versions.configs(versionIDs: rootIDs)
                let byStore = try session.versions.versions(ids: rootIDs)
                let roots = Dictionary(records.roots.map { ($0.version.id, $0) }, uniquingKeysWith: { a, _ in a })
                #expect(roots.count == 50)
                for version in byStore {
                    #expect(roots[version.id]?.version == version)
                    #expect(roots[version.id]?.config == configs[version.id])
                }

                #expect(try encoded(records.merges) == encoded(try session.merges.records(producing: ids)))
                #expect(records.merges.count == 50)
                let history = try session.aliases.history(versionIDs: ids, subjectID: subject.id)
                #expect(try encoded(records.aliasHistory) == encoded(history))
                // The seeder's seven moves of adapter-2's aliases, then the two above; none of adapter-1's.
                #expect(records.aliasHistory.map(\.setBy) == Array(repeating: "bench", count: 7) + ["t\"e'st é", "test"])
                #expect(records.aliasHistory.allSatisfy { $0.adapter == "adapter-2" })
            }
        }
    }

    /// The audit labels merges from the lineage's own nodes; in a catalog edited by hand (a lineage edge deleted),
    /// a merge's input may lie outside them, and the merges are then read the long way, still row for row.
    @Test func auditOfAHandEditedLineageFallsBackToTheStoresReads() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 1) }
            let subject = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 60) })
            let trained = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 11) })
            // Merged 60's parents are merged 59 and trained 11: drop the edge to 11, keep its merge input.
            try catalog.pool.query("DELETE FROM lineage_edges WHERE child_version_id = \(subject.id) AND parent_version_id = \(trained.id)")
            try catalog.read { session in
                let records = try session.lineage.audit(subjectID: subject.id)
                let ids = records.nodes.map(\.versionID)
                #expect(!ids.contains(trained.id))
                #expect(try encoded(records.merges) == encoded(try session.merges.records(producing: ids)))
                #expect(records.merges.last?.inputs.contains("adapter-1@11") == true)
                #expect(Set(records.edges) == Set(try session.lineage.graph(from: subject.id, direction: .ancestors).edges))
            }
        }
    }

    @Test func descendantsComeWithTheirEdges() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 1) }
            try catalog.read { session in
                // Trained version 2 is a parent of merged 51 (with 1), and each merged version the parent of the next.
                let start = try #require(try session.versions.version(name: "adapter-1", number: 2))
                let graph = try session.lineage.graph(from: start.id, direction: .descendants)
                #expect(graph.nodes.count == 51)
                #expect(Set(graph.nodes.map(\.version)) == Set([2] + Array(51...100)))
                #expect(graph.nodes.first { $0.version == 100 }?.depth == 50)
                #expect(graph.edges.count == 50, "2 → 51, then 51 → 52 … 99 → 100; edges from other trained versions are not among the nodes")
                #expect(graph.edges.allSatisfy { $0.method == "ties" && $0.weight == 0.5 })
            }
        }
    }
}
