import Foundation
import Merge
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing
@testable import Registry

@Suite("Registry: fsck", .serialized)
struct FsckTests {
    /// tone@1 + json@1 → blend@1 (ties), blend@production.
    static func story(_ f: RegistryFixture) throws -> (tone: AdapterVersion, blend: AdapterVersion) {
        let tone = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
        _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
        let blend = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend",
                                         request: MergeRequest(method: .ties, density: 0.5)).version
        _ = try f.registry.setAlias(name: "blend", alias: "production", version: 1, force: true)
        return (tone, blend)
    }

    @Test func aHealthyRegistryHasNoViolation() throws {
        try RegistryFixture.with { f in
            _ = try Self.story(f)
            let report = try f.registry.fsck(deep: true)
            #expect(report.passed, "\(report.violations)")
            #expect(report.versions == 3 && report.blobs >= 4)
        }
    }

    @Test func aLostMergeOutputIsReportedWithWhatItAffectsAndRepairedByReRunning() throws {
        try RegistryFixture.with { f in
            let (_, blend) = try Self.story(f)
            try f.s3.delete(digest: blend.weightsDigest)
            let broken = try f.registry.fsck()
            let violation = try #require(broken.violations.first { $0.check == "blob_missing" })
            #expect(violation.affects == ["blend@1"] && violation.aliases == ["blend@production"])
            #expect(violation.deployedDigests == [blend.weightsDigest.hex])

            let repaired = try f.registry.fsck(repair: true)
            #expect(repaired.passed, "\(repaired.violations)")
            #expect(repaired.repaired.count == 1 && repaired.repaired[0].contains("restored"))
            #expect(try f.s3.exists(digest: blend.weightsDigest))
            #expect(try f.registry.verify(blend).passed)
        }
    }

    @Test func aSameSizeCorruptionNeedsDeepAndIsHealedByReplace() throws {
        try RegistryFixture.with { f in
            let (tone, blend) = try Self.story(f)
            var bytes = try f.s3.getData(digest: tone.weightsDigest)
            bytes[bytes.count - 1] ^= 0xFF
            try f.tamper(tone.weightsDigest, with: bytes)
            #expect(try f.registry.fsck().passed, "sizes still match: only --deep reads the bytes")
            let deep = try f.registry.fsck(deep: true)
            let violation = try #require(deep.violations.first)
            #expect(violation.check == "blob_corrupt" && deep.violations.count == 1)
            #expect(Set(violation.affects) == ["tone@1", "blend@1"], "the merge made from it is affected too")
            #expect(violation.aliases == ["blend@production"])
            // Re-registering only answers "already registered"; replacing the blob from the good file heals it.
            let original = RegistryFixture.golden("a1").appendingPathComponent("adapter_model.safetensors")
            _ = try f.registry.blobs.replace(fileAt: original, digest: tone.weightsDigest)
            #expect(try f.registry.fsck(deep: true).passed)
            _ = blend
        }
    }

    @Test func catalogInvariantsBrokenBehindTheRegistrysBack() throws {
        try RegistryFixture.with { f in
            let (tone, blend) = try Self.story(f)
            _ = try TestPostgres.psql(f.databaseURL, "DELETE FROM lineage_edges WHERE child_version_id = \(blend.id) AND parent_version_id = \(tone.id)")
            _ = try TestPostgres.psql(f.databaseURL, "UPDATE aliases SET version_id = \(tone.id) WHERE alias = 'production'")
            let queued = try f.registry.enqueueMerge(MergeJobRequest(inputs: ["tone", "json"], into: "late", request: MergeRequest(method: .linear)))
            _ = try #require(try f.registry.claimJob(worker: "vanished", leaseSeconds: 1))
            f.clock.advance(by: 5)
            let report = try f.registry.fsck()
            let checks = Set(report.violations.map(\.check))
            #expect(checks == ["merge_lineage", "lineage_part", "alias_history", "dead_lease"], "\(report.violations)")
            // The audit's stored part of blend@1 still holds the deleted edge: fsck names it, and only it.
            #expect(report.violations.filter { $0.check == "lineage_part" }.map(\.affects) == [["blend@1"]])
            #expect(report.violations.first { $0.check == "dead_lease" }?.subject == "job \(queued.id)")
            #expect(report.violations.first { $0.check == "merge_lineage" }?.affects == ["blend@1"])
        }
    }

    @Test func theAuditChainRevealsARewriteBehindTheRegistrysBack() throws {
        try RegistryFixture.with { f in
            _ = try Self.story(f)
            let events = try f.count("SELECT count(*) FROM audit_events")
            let head = try #require(try f.registry.auditHead())
            #expect(head.position == Int64(events) && head.hash.count == 64)
            #expect(try f.registry.fsck().passed)
            // What the table's owner can do: switch the append-only trigger off, rewrite who did something, switch it on.
            _ = try TestPostgres.psql(f.databaseURL, """
                ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
                UPDATE audit_events SET actor = 'someone-else' WHERE chain_seq = 2;
                ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;
                """)
            let report = try f.registry.fsck()
            #expect(report.violations.map(\.check) == ["audit_chain"])
            #expect(report.violations.first?.subject.contains("position 2") == true)
        }
    }

    @Test func concurrentWritersFormOneUnbrokenChain() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            DispatchQueue.concurrentPerform(iterations: 8) { index in
                for round in 0..<5 {
                    _ = try? f.acting(as: "writer-\(index)").recordEvaluation(
                        try f.registry.resolve("tone"), Evaluation(suite: "s\(index)", metric: "m", value: Double(round), higherIsBetter: true))
                }
            }
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'eval.record'") == 40)
            let report = try f.registry.fsck()
            #expect(report.passed, "\(report.violations)")
        }
    }

    /// A blob recorded before its chaining states were kept (migration 0010) gains them from `fsck --deep --repair`,
    /// taken from the bytes the read verified. A deep fsck without `--repair` writes nothing, and a corrupt blob
    /// gains no states.
    @Test func deepRepairRecordsTheChainingStatesABlobWasRecordedWithout() throws {
        try RegistryFixture.with { f in
            let scratch = try Fixtures.temporaryDirectory("fsck-chain")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let large = try LargeAdapter.write(in: scratch)
            let version = try f.registry.register(directory: large, name: "large").version
            let bytes = try Data(contentsOf: large.appendingPathComponent("adapter_model.safetensors"))
            let expected = SHA256Chain.digest(size: Int64(bytes.count)) { feed in bytes.withUnsafeBytes { feed($0) } }.chain
            func recorded() throws -> SHA256Chain? { try f.registry.catalog.read { try $0.blobs.chain(of: version.weightsDigest) } }
            func forget() throws {
                _ = try TestPostgres.psql(f.databaseURL, "UPDATE blobs SET chain = NULL WHERE sha256 = '\(version.weightsDigest.hex)'")
            }
            try forget()

            let deepOnly = try f.registry.fsck(deep: true)
            #expect(deepOnly.passed && deepOnly.repaired.isEmpty, "\(deepOnly.violations)")
            #expect(try recorded() == nil, "without --repair nothing is written")

            let repaired = try f.registry.fsck(deep: true, repair: true)
            #expect(repaired.passed, "\(repaired.violations)")
            guard SHA256Chain.available else {
                #expect(repaired.repaired.isEmpty)
                return
            }
            #expect(repaired.repaired.count == 1 && repaired.repaired[0].contains(version.weightsDigest.hex), "\(repaired.repaired)")
            #expect(try recorded() != nil && recorded() == expected)
            #expect(try f.registry.fsck(deep: true, repair: true).repaired.isEmpty, "nothing left to record")

            // Other bytes of the same size: the read refuses them, and no states are taken from them.
            try forget()
            var altered = bytes
            altered[altered.count - 1000] ^= 0x01
            try f.tamper(version.weightsDigest, with: altered)
            let corrupt = try f.registry.fsck(deep: true, repair: true)
            #expect(corrupt.violations.map(\.check) == ["blob_corrupt"])
            #expect(corrupt.repaired.isEmpty)
            #expect(try recorded() == nil)
        }
    }
}
