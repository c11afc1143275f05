import Foundation
import Merge
import QuiverCore
import QuiverTesting
import Registry
import Testing

@Suite("Registry: merge, lineage, audit, verify", .serialized)
struct MergeLineageTests {
    @Test func rankMismatchIsRefusedAndRecorded() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a4"), name: "wide")
            let error = try #require(throws: MergeError.self) {
                try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "wide")], into: "blend", request: MergeRequest(method: .ties, density: 0.5))
            }
            #expect(error.kind == .rankMismatch)
            #expect(try f.count("SELECT count(*) FROM merge_refusals WHERE reason_code = 'merge.rank_mismatch' AND requested_by = 'tester'") == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'merge.refuse'") == 1)
            #expect(try f.count("SELECT count(*) FROM adapters WHERE name = 'blend'") == 0)
            #expect(try f.count("SELECT count(*) FROM merges") == 0)
        }
    }

    @Test func policyRefusesForbiddenMethod() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            _ = try f.registry.setPolicy(key: "allowed_methods", json: "[\"linear\"]")
            let error = try #require(throws: RegistryError.self) {
                try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: MergeRequest(method: .ties, density: 0.5))
            }
            #expect(error.code == "registry.policy.method_not_allowed")
            #expect(try f.count("SELECT count(*) FROM merge_refusals WHERE reason_code = 'registry.policy.method_not_allowed'") == 1)
            #expect(throws: RegistryError.self) { try f.registry.setPolicy(key: "max_merged_rank", json: "\"big\"") }
        }
    }

    @Test func mergeTwiceReturnsSameVersionAndLineageWalksBothWays() throws {
        try RegistryFixture.with { f in
            let a = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            let b = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json").version
            let request = MergeRequest(method: .ties, weights: [0.6, 0.4], density: 0.5)
            let first = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request)
            #expect(!first.existed && first.version.kind == .merged && first.version.label == "blend@1")
            let second = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request)
            #expect(second.existed && second.version.id == first.version.id && second.mergeID == first.mergeID)
            #expect(try f.count("SELECT count(*) FROM merges") == 1)
            #expect(try f.count("SELECT count(*) FROM adapter_versions WHERE kind = 'merged'") == 1)

            let up = try f.registry.lineage(of: first.version)
            #expect(Set(up.nodes.map(\.label)) == ["blend@1", "tone@1", "json@1"])
            #expect(Set(up.roots.map(\.label)) == ["tone@1", "json@1"])
            #expect(up.edges.map(\.weight).sorted() == [0.4, 0.6])
            let down = try f.registry.lineage(of: a, direction: .descendants)
            #expect(Set(down.nodes.map(\.label)) == ["tone@1", "blend@1"])
            let downB = try f.registry.lineage(of: b, direction: .descendants)
            #expect(downB.nodes.contains { $0.label == "blend@1" && $0.depth == 1 })
        }
    }

    @Test func concurrentIdenticalMergesRecordOneMerge() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let results = Mutex16()
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    results.add(Result {
                        try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend",
                                             request: MergeRequest(method: .dareTies, density: 0.5, seed: 7)).version.id
                    })
                }.start()
            }
            group.wait()
            let ids = try results.all.map { try $0.get() }
            #expect(ids.count == 4 && Set(ids).count == 1)
            #expect(try f.count("SELECT count(*) FROM merges") == 1)
            #expect(try f.count("SELECT count(*) FROM lineage_edges") == 2)
        }
    }

    /// tone + json → m1; m1 + domain → m2; m2 + tone → m3 (depth 3). Merged outputs have scaling 1, so the later
    /// merges use dense-space methods, which accept inputs of different scaling.
    private func chain(_ f: RegistryFixture) throws -> (roots: [AdapterVersion], m3: AdapterVersion) {
        let tone = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
        let json = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json").version
        let conflict = try f.registry.register(directory: RegistryFixture.golden("a9_conflict"), name: "domain").version
        _ = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "m1", request: MergeRequest(method: .ties, density: 0.5))
        _ = try f.registry.merge(inputs: [.latest(name: "m1"), .latest(name: "domain")], into: "m2", request: MergeRequest(method: .dareTiesSVD, density: 0.7, seed: 42))
        let m3 = try f.registry.merge(inputs: [.latest(name: "m2"), .latest(name: "tone")], into: "m3", request: MergeRequest(method: .svd, weights: [0.8, 0.2]))
        return ([tone, json, conflict], m3.version)
    }

    @Test func auditFromBareDigestOfDepthThreeMerge() throws {
        try RegistryFixture.with { f in
            let (roots, m3) = try chain(f)
            let report = try f.registry.audit(m3.weightsDigest.hex)
            #expect(report.subject.id == m3.id)
            #expect(Set(report.roots.map(\.version.label)) == Set(roots.map(\.label)))
            #expect(report.roots.allSatisfy { $0.version.createdBy == "tester" && $0.config.contains("\"r\"") })
            #expect(report.merges.map(\.output) == ["m1@1", "m2@1", "m3@1"])
            #expect(report.merges.map(\.method) == ["ties", "dare_ties_svd", "svd"])
            #expect(report.merges[1].seed == 42 && report.merges[1].params.contains("0.7"))
            #expect(report.merges[2].weights == [0.8, 0.2])
            #expect(report.lineage.nodes.map(\.depth).max() == 3)
            // The same answer from the file itself.
            let scratch = try Fixtures.temporaryDirectory("audit")
            try f.registry.pull(m3, to: scratch.appendingPathComponent("m3"))
            let byFile = try f.registry.audit(scratch.appendingPathComponent("m3/adapter_model.safetensors").path)
            #expect(byFile.subject.id == m3.id)
        }
    }

    @Test func verifyPassesThenFailsAfterTampering() throws {
        try RegistryFixture.with { f in
            let (roots, m3) = try chain(f)
            let clean = try f.registry.verify(m3)
            #expect(clean.passed)
            #expect(clean.checks.filter { $0.kind == "merge" }.count == 3)
            let victim = roots[2]
            try f.tamper(victim.weightsDigest, with: Data(repeating: 7, count: 64))
            let tampered = try f.registry.verify(m3)
            #expect(!tampered.passed)
            #expect(tampered.failures.contains { $0.subject == victim.label && $0.detail.contains(victim.weightsDigest.hex) })
            #expect(tampered.failures.contains { $0.kind == "merge" && $0.subject == "m2@1" })
        }
    }

    @Test func askingForARecordedMergeAgainRestoresItsLostResult() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let request = MergeRequest(method: .dareTies, density: 0.6, seed: 11)
            let first = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request)
            try f.s3.delete(digest: first.version.weightsDigest)
            #expect(try !f.registry.verify(first.version).passed)
            // The same request re-runs the deterministic merge and puts the identical bytes back.
            let again = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request)
            #expect(again.existed && again.version.id == first.version.id && again.mergeID == first.mergeID)
            #expect(try f.s3.exists(digest: first.version.weightsDigest))
            #expect(try f.registry.verify(first.version).passed)
            #expect(try f.count("SELECT count(*) FROM merges") == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'blob.restore' AND subject = 'blend@1'") == 1)
        }
    }
}
