import Foundation
import Postgres
import QuiverCore
import QuiverTesting
import Testing
@testable import Catalog

/// The benchmark's set-based seeder writes the lineage it documents: version 100 of every adapter is 50 merges deep.
@Suite("Synthetic catalog for benchmarks")
struct SyntheticCatalogTests {
    @Test func seededGroupsHaveTheDocumentedLineage() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 2) }
            try catalog.transaction { try $0.synthetic.seed(groups: 3, through: 3) }
            try catalog.read { session in
                #expect(try session.versions.list(VersionFilter(), limit: 1000).count == 300)
                let weights = SHA256Digest.of(Array("w2-99".utf8))
                let last = try #require(try session.versions.list(VersionFilter(), limit: 1000).first { $0.weightsDigest == weights })
                #expect(last.name == "adapter-2" && last.version == 100 && last.kind == .merged)
                #expect(last.canonicalDigest == SHA256Digest.of(Array("c2-99".utf8)))
                let ancestors = try session.lineage.graph(from: last.id, direction: .ancestors).nodes
                #expect(ancestors.count == 100)
                #expect(ancestors.map(\.depth).max() == 50)
                #expect(Set(ancestors.map(\.name)) == ["adapter-2"])
                let records = try session.merges.records(producing: ancestors.map(\.versionID))
                #expect(records.count == 50)
                // Merged version 52 has parents 51 and trained version 3.
                let parents = try session.lineage.parents(of: try #require(ancestors.first { $0.version == 52 }).versionID)
                let versions = try session.versions.versions(ids: parents).map(\.version).sorted()
                #expect(versions == [3, 51])
            }
        }
    }
}
