import Foundation
import Postgres
import QuiverCore
import QuiverTesting
import Testing
@testable import Catalog

/// The audit read from the stored lineage parts (migration 0008) says exactly what the recursive walk over the
/// catalog's rows says, for every way of naming a version; parts are made at commit for versions written row by row,
/// and an audit whose parts are incomplete reads the long way.
@Suite("Lineage parts")
struct LineagePartsTests {
    /// The parts-based records and the walked ones agree field by field (order aside where the reads promise none).
    private func expectSame(_ parts: AuditRecords, _ walked: AuditRecords, _ what: String) throws {
        #expect(Set(parts.nodes) == Set(walked.nodes), "nodes of \(what)")
        #expect(parts.nodes.count == walked.nodes.count, "node count of \(what)")
        #expect(Set(parts.edges) == Set(walked.edges), "edges of \(what)")
        #expect(parts.edges.count == walked.edges.count, "edge count of \(what)")
        let partRoots = try parts.roots.map(encoded).sorted()
        let walkedRoots = try walked.roots.map(encoded).sorted()
        #expect(partRoots == walkedRoots, "roots of \(what)")
        #expect(try encoded(parts.merges) == encoded(walked.merges), "merges of \(what)")
        #expect(try encoded(parts.aliasHistory) == encoded(walked.aliasHistory), "alias history of \(what)")
    }

    @Test func everyWayOfNamingAVersionAuditsAsTheWalkDoes() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 2) }
            try catalog.transaction { try $0.synthetic.seedFan(name: "fan", descendants: 40) }
            try catalog.read { session in
                #expect(try session.integrity.lineageParts().isEmpty)
                var subjects: [AdapterVersion] = []
                for (name, number) in [("adapter-2", 100), ("adapter-2", 51), ("adapter-2", 3), ("adapter-1", 77), ("fan", 1), ("fan", 41), ("fan", 20)] {
                    subjects.append(try #require(try session.versions.version(name: name, number: number)))
                }
                for subject in subjects {
                    let walked = try session.lineage.audit(subjectID: subject.id)
                    let stored = try #require(try session.lineage.storedGraph(from: subject.id, direction: .ancestors))
                    let walkedGraph = try session.lineage.walkedGraph(from: subject.id, direction: .ancestors)
                    #expect(Set(stored.nodes) == Set(walkedGraph.nodes) && stored.nodes.count == walkedGraph.nodes.count, "\(subject.label)")
                    #expect(Set(stored.edges) == Set(walkedGraph.edges) && stored.edges.count == walkedGraph.edges.count, "\(subject.label)")
                    let down = try #require(try session.lineage.storedGraph(from: subject.id, direction: .descendants))
                    let walkedDown = try session.lineage.walkedGraph(from: subject.id, direction: .descendants)
                    #expect(Set(down.nodes) == Set(walkedDown.nodes) && down.nodes.count == walkedDown.nodes.count, "below \(subject.label)")
                    #expect(Set(down.edges) == Set(walkedDown.edges) && down.edges.count == walkedDown.edges.count, "below \(subject.label)")
                    let keys: [VersionKey] = [.id(subject.id), .version(name: subject.name, number: subject.version),
                                              .digest(subject.weightsDigest), .digest(subject.canonicalDigest)]
                    for key in keys {
                        let (candidates, records) = try session.lineage.storedAudit(key)
                        #expect(candidates.first == subject, "\(key)")
                        try expectSame(try #require(records), walked, "\(subject.label) as \(key)")
                    }
                }
                // The latest version, and an alias (the seeder moved production to 100 and staging to 95 then 100).
                let latest = try session.lineage.audit(.latest(name: "adapter-1"))
                #expect(latest.candidates.map(\.version) == [100])
                let aliased = try session.lineage.storedAudit(.alias(name: "adapter-2", alias: "production"))
                #expect(aliased.candidates.map(\.version) == [100])
                try expectSame(try #require(aliased.records), try session.lineage.audit(subjectID: aliased.candidates[0].id), "adapter-2@production")
                #expect(try #require(aliased.records).aliasHistory.count == 7)
                // A config digest (every synthetic version shares one) names up to three versions, by id, as resolving does.
                let config = try #require(subjects.first).configDigest
                let byConfig = try session.lineage.storedAudit(.digest(config))
                #expect(byConfig.candidates == (try session.versions.matching(digest: config)))
                #expect(byConfig.candidates.count == 3)
                try expectSame(try #require(byConfig.records), try session.lineage.audit(subjectID: byConfig.candidates[0].id), "by config")
                // Nothing by that name: no candidates, no records.
                let missing = try session.lineage.audit(.version(name: "adapter-2", number: 101))
                #expect(missing.candidates.isEmpty && missing.records == nil)
                #expect(try session.lineage.audit(.digest(SHA256Digest.of(Array("nothing".utf8)))).records == nil)
            }
        }
    }

    /// A version as a registry writes it, with values that need escaping in every text column.
    private func newVersion(_ name: String, _ key: String, kind: VersionKind) -> NewVersion {
        NewVersion(
            name: name, kind: kind, peftType: "LORA", baseModel: "base/model", baseRevision: "r1", rank: 8, loraAlpha: 16.5,
            useRslora: kind == .merged, useDora: false, targetModules: ["q_proj", "v proj \"quoted\""],
            config: #"{"r": 8, "lora_alpha": 16.5, "note": "tab\there, é, \"q\""}"#,
            canonicalDigest: SHA256Digest.of(Array("c\(key)".utf8)), configDigest: SHA256Digest.of(Array("config".utf8)), configSize: 70,
            weightsDigest: SHA256Digest.of(Array("w\(key)".utf8)), weightsSize: 1_000, tags: ["team": "a,b", "ü": "{}"],
            modules: [], createdBy: "tester")
    }

    private func register(_ tx: CatalogSession, _ version: NewVersion) throws -> AdapterVersion {
        try tx.blobs.record(version.configDigest, size: version.configSize)
        try tx.blobs.record(version.weightsDigest, size: version.weightsSize)
        return try tx.versions.insert(version)
    }

    /// tone and json trained, then blend merged from tone (twice) and json, each in its own transaction.
    private func story(_ transaction: ((CatalogSession) throws -> AdapterVersion) throws -> AdapterVersion,
                       inside: @escaping (CatalogSession, AdapterVersion) throws -> Void = { _, _ in }) throws -> (tone: AdapterVersion, json: AdapterVersion, blend: AdapterVersion) {
        let tone = try transaction { try register($0, newVersion("tone", "t", kind: .trained)) }
        let json = try transaction { try register($0, newVersion("json", "j", kind: .trained)) }
        let blend = try transaction { tx in
            let output = try register(tx, newVersion("blend", "b", kind: .merged))
            _ = try tx.merges.record(NewMerge(
                method: "ties", params: #"{"method": "ties", "density": 0.25}"#, seed: 7, softwareVersion: "test",
                inputs: [(tone.id, tone.canonicalDigest, 0.5), (json.id, json.canonicalDigest, 0.25), (tone.id, tone.canonicalDigest, 0.125)],
                outputVersionID: output.id, requestDigest: SHA256Digest.of(Array("r".utf8)), requestedBy: "tester"))
            try inside(tx, output)
            return output
        }
        return (tone, json, blend)
    }

    @Test func versionsWrittenRowByRowGetTheirPartsAtCommit() throws {
        try withScratchCatalog { catalog in
            let (tone, json, blend) = try story({ body in try catalog.transaction { try body($0) } }, inside: { tx, output in
                // Inside its own transaction the part is not made yet: the audit reads the long way, and agrees.
                #expect(try tx.lineage.storedAudit(.id(output.id)).records == nil)
                let inside = try tx.lineage.audit(.id(output.id))
                try expectSame(try #require(inside.records), try tx.lineage.audit(subjectID: output.id), "blend before commit")
            })
            try catalog.read { session in
                #expect(try session.integrity.lineageParts().isEmpty)
                let ancestors = try session.connection.query("SELECT ancestors FROM lineage_parts WHERE version_id = \(blend.id)").single().decode([Int64].self, at: 0)
                #expect(ancestors == [tone.id, json.id].sorted())
                let records = try #require(try session.lineage.storedAudit(.version(name: "blend", number: 1)).records)
                try expectSame(records, try session.lineage.audit(subjectID: blend.id), "blend")
                #expect(records.roots.map(\.version.name).sorted() == ["json", "tone"])
                #expect(records.merges.first?.inputs == ["tone@1", "json@1", "tone@1"])
            }
        }
    }

    /// A merge linked later to a version already committed (its result had been registered before) gives that
    /// version parents: its part, and the ancestors of every version below it, are rendered again at commit.
    @Test func parentsAddedToACommittedVersionRenderItsPartsAgain() throws {
        try withScratchCatalog { catalog in
            let (tone, json, blend) = try story({ body in try catalog.transaction { try body($0) } })
            // A trained version, then a merge of it (committed), then a merge recorded for the trained one.
            let late = try catalog.transaction { try register($0, newVersion("late", "l", kind: .trained)) }
            let below = try catalog.transaction { tx in
                let output = try register(tx, newVersion("below", "x", kind: .merged))
                _ = try tx.merges.record(NewMerge(
                    method: "linear", params: #"{"method": "linear"}"#, seed: 0, softwareVersion: "test",
                    inputs: [(late.id, late.canonicalDigest, 1.0), (blend.id, blend.canonicalDigest, 1.0)],
                    outputVersionID: output.id, requestDigest: SHA256Digest.of(Array("rx".utf8)), requestedBy: "tester"))
                return output
            }
            try catalog.transaction { tx in
                _ = try tx.merges.record(NewMerge(
                    method: "ties", params: #"{"method": "ties"}"#, seed: 1, softwareVersion: "test",
                    inputs: [(tone.id, tone.canonicalDigest, 0.5), (json.id, json.canonicalDigest, 0.5)],
                    outputVersionID: late.id, requestDigest: SHA256Digest.of(Array("rl".utf8)), requestedBy: "tester"))
            }
            try catalog.read { session in
                #expect(try session.integrity.lineageParts().isEmpty)
                for version in [late, below] {
                    let records = try #require(try session.lineage.storedAudit(.id(version.id)).records)
                    try expectSame(records, try session.lineage.audit(subjectID: version.id), "\(version.label) after late got parents")
                }
                let ancestors = try session.connection.query("SELECT ancestors FROM lineage_parts WHERE version_id = \(below.id)")
                    .single().decode([Int64].self, at: 0)
                #expect(ancestors == [tone.id, json.id, blend.id, late.id].sorted())
                #expect(try #require(try session.lineage.storedAudit(.id(late.id)).records).roots.map(\.version.name).sorted() == ["json", "tone"])
            }
        }
    }

    /// A catalog written before migration 0008 gets every part from the migration's backfill, as the trigger
    /// would have made them.
    @Test func upgradingACatalogBackfillsEveryPart() throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let before = Array(Migration.embedded.prefix { $0.name != "lineage_parts" })
        #expect(before.count == 7)
        try Migrator(migrations: before).migrate(on: connection)
        let (tone, json, blend) = try story({ body in try connection.transaction { try body(CatalogSession($0)) } })
        #expect(try connection.query("SELECT to_regclass('lineage_parts') IS NULL").single().decode(Bool.self, at: 0))
        let applied = try Migrator().migrate(on: connection)
        #expect(applied.map(\.version) == Array(8...Migration.embedded.count))
        let session = CatalogSession(connection)
        #expect(try session.integrity.lineageParts().isEmpty)
        for version in [tone, json, blend] {
            let records = try #require(try session.lineage.storedAudit(.id(version.id)).records)
            try expectSame(records, try session.lineage.audit(subjectID: version.id), "\(version.label) after the upgrade")
        }
        let ancestors = try connection.query("SELECT ancestors FROM lineage_parts WHERE version_id = \(blend.id)").single().decode([Int64].self, at: 0)
        #expect(ancestors == [tone.id, json.id].sorted())
    }

    /// Descendants come from the index on the parts' ancestor lists; a part missing between the start and a
    /// descendant leaves that descendant unreached along the parts' edges, and the graph is walked instead.
    @Test func descendantsBelowAMissingPartAreWalked() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 1) }
            let start = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 55) })
            let between = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 60) })
            try catalog.read { session in
                let stored = try #require(try session.lineage.storedGraph(from: start.id, direction: .descendants))
                let walked = try session.lineage.walkedGraph(from: start.id, direction: .descendants)
                #expect(Set(stored.nodes) == Set(walked.nodes) && stored.nodes.count == walked.nodes.count)
                #expect(Set(stored.edges) == Set(walked.edges) && stored.edges.count == walked.edges.count)
                #expect(stored.nodes.count == 46, "55 and merged 56…100 below it")
            }
            try catalog.pool.query("DELETE FROM lineage_parts WHERE version_id = \(between.id)")
            try catalog.read { session in
                #expect(try session.lineage.storedGraph(from: start.id, direction: .descendants) == nil)
                let below = try session.lineage.graph(from: start.id, direction: .descendants)
                #expect(Set(below.nodes) == Set(try session.lineage.walkedGraph(from: start.id, direction: .descendants).nodes))
                #expect(below.nodes.count == 46)
            }
        }
    }

    @Test func anAuditWhosePartsAreIncompleteReadsTheLongWay() throws {
        try withScratchCatalog { catalog in
            try catalog.transaction { try $0.synthetic.seed(groups: 1, through: 1) }
            let subject = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 70) })
            let ancestor = try #require(try catalog.read { try $0.versions.version(name: "adapter-1", number: 55) })
            try catalog.pool.query("DELETE FROM lineage_parts WHERE version_id = \(ancestor.id)")
            try catalog.read { session in
                #expect(try session.lineage.storedAudit(.id(subject.id)).records == nil)
                #expect(try session.lineage.storedAudit(.id(ancestor.id)).records == nil)
                #expect(try session.lineage.storedGraph(from: subject.id, direction: .ancestors) == nil)
                #expect(try session.lineage.storedGraph(from: ancestor.id, direction: .descendants) == nil)
                let below = try session.lineage.graph(from: ancestor.id, direction: .descendants)
                #expect(Set(below.nodes) == Set(try session.lineage.walkedGraph(from: ancestor.id, direction: .descendants).nodes))
                let graph = try session.lineage.graph(from: subject.id, direction: .ancestors)
                #expect(Set(graph.nodes) == Set(try session.lineage.walkedGraph(from: subject.id, direction: .ancestors).nodes))
                let records = try #require(try session.lineage.audit(.id(subject.id)).records)
                try expectSame(records, try session.lineage.audit(subjectID: subject.id), "adapter-1@70 without 55's part")
                #expect(records.nodes.count == 41, "70 is merged position 69: trained 1…21 and merged 51…69 above it")
                let findings = try session.integrity.lineageParts()
                #expect(findings.map(\.versionIDs) == [[ancestor.id]])
                #expect(findings.first?.subject == "adapter-1@55")
            }
        }
    }
}
