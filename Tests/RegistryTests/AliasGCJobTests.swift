import Foundation
import Merge
import QuiverCore
import QuiverTesting
import Registry
import Testing

@Suite("Registry: aliases, promotion, gc, jobs", .serialized)
struct AliasGCJobTests {
    @Test func aliasHistoryAndPromotionRule() throws {
        try RegistryFixture.with { f in
            let tone = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            let json = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json").version
            let merged = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "tone",
                                              request: MergeRequest(method: .ties, density: 0.5)).version
            #expect(merged.label == "tone@2")
            try f.registry.recordEvaluation(tone, Evaluation(suite: "style", metric: "acc", value: 0.80, higherIsBetter: true))
            try f.registry.recordEvaluation(json, Evaluation(suite: "json", metric: "loss", value: 0.30, higherIsBetter: false))

            // A trained version moves freely; the history keeps both moves.
            _ = try f.registry.setAlias(name: "tone", alias: "staging", version: 1)
            _ = try f.registry.setAlias(name: "tone", alias: "production", version: 1)

            // No evaluations of the merge: refused, nothing moves.
            let none = try #require(throws: RegistryError.self) { try f.registry.setAlias(name: "tone", alias: "production", version: 2) }
            #expect(none.code == "registry.promotion_refused" && none.reason.contains("no recorded evaluations"))
            #expect(try f.registry.resolve("tone@production").id == tone.id)

            // Worse than a parent on its suite: refused, naming the suite.
            try f.registry.recordEvaluation(merged, Evaluation(suite: "style", metric: "acc", value: 0.82, higherIsBetter: true))
            try f.registry.recordEvaluation(merged, Evaluation(suite: "json", metric: "loss", value: 0.35, higherIsBetter: false))
            let worse = try #require(throws: RegistryError.self) { try f.registry.setAlias(name: "tone", alias: "production", version: 2) }
            #expect(worse.reason.contains("json/loss"))

            // Forced: moves, and the override is audited.
            let forced = try f.acting(as: "release-manager").setAlias(name: "tone", alias: "production", version: 2, force: true)
            #expect(forced.forced && forced.previousVersion == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'alias.force' AND actor = 'release-manager'") == 1)

            // Back to 1, then with good evaluations 2 is promoted without force.
            _ = try f.registry.setAlias(name: "tone", alias: "production", version: 1)
            try f.registry.recordEvaluation(merged, Evaluation(suite: "json", metric: "loss", value: 0.28, higherIsBetter: false))
            let promoted = try f.registry.setAlias(name: "tone", alias: "production", version: 2)
            #expect(!promoted.forced && promoted.version.id == merged.id)

            let history = try f.registry.audit("tone@production").aliasHistory.filter { $0.alias == "production" }
            #expect(history.map(\.version) == ["tone@1", "tone@2", "tone@1", "tone@2"])
            #expect(history.map(\.forced) == [false, true, false, false])
            #expect(history.map(\.setBy) == ["tester", "release-manager", "tester", "tester"])
        }
    }

    @Test func gcRemovesOnlyUnreferencedOldBlobs() throws {
        try RegistryFixture.with { f in
            let kept = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            // An orphan as a crashed registration leaves it: uploaded, recorded in no version.
            let orphan = try f.registry.blobs.put(data: Data("orphaned config".utf8))
            let young = try f.registry.collectGarbage(graceSeconds: 3600)
            #expect(young.deleted.isEmpty && young.keptYoung == 1)
            let dry = try f.registry.collectGarbage(graceSeconds: 0, dryRun: true)
            #expect(dry.deleted == [orphan.digest.hex])
            #expect(try f.s3.exists(digest: orphan.digest))
            f.clock.advance(by: 2) // past the grace period; S3 Last-Modified has one-second resolution.
            let swept = try f.registry.collectGarbage(graceSeconds: 0)
            #expect(swept.deleted == [orphan.digest.hex])
            #expect(try !f.s3.exists(digest: orphan.digest))
            #expect(try f.s3.exists(digest: kept.weightsDigest) && f.s3.exists(digest: kept.configDigest))
            #expect(try f.registry.verify(kept).passed)
        }
    }

    @Test func expiredLeaseIsTakenOverByAnotherWorker() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let queued = try f.registry.enqueueMerge(MergeJobRequest(inputs: ["tone", "json"], into: "blend", request: MergeRequest(method: .linear)))
            #expect(queued.status == .queued && queued.attempts == 0)
            // The first worker claims with a short lease and dies without finishing.
            let claimed = try #require(try f.registry.claimJob(worker: "worker-dead", leaseSeconds: 1))
            #expect(claimed.id == queued.id && claimed.status == .running && claimed.leaseOwner == "worker-dead")
            #expect(try f.registry.claimJob(worker: "worker-2", leaseSeconds: 60) == nil)
            f.clock.advance(by: 2) // past worker-dead's one-second lease
            let finished = try #require(try f.registry.runOneJob(worker: "worker-2", leaseSeconds: 60))
            #expect(finished.id == queued.id && finished.status == .succeeded && finished.attempts == 2)
            #expect(finished.leaseOwner == "worker-2")
            let version = try #require(finished.resultVersionID)
            #expect(try f.registry.resolve("blend").id == version)
            // The dead worker cannot overwrite the outcome.
            let late = try f.registry.runClaimedJob(claimed, worker: "worker-dead")
            #expect(late.status == .succeeded && late.leaseOwner == "worker-2")
            #expect(try f.count("SELECT count(*) FROM adapter_versions WHERE kind = 'merged'") == 1)
        }
    }

    @Test func aJobNamingAMissingAdapterFailsAtOnce() throws {
        try RegistryFixture.with { f in
            let job = try f.registry.enqueueMerge(MergeJobRequest(inputs: ["missing"], into: "blend", request: MergeRequest(method: .linear)), maxAttempts: 3)
            let first = try #require(try f.registry.runOneJob(worker: "w", leaseSeconds: 60))
            #expect(first.id == job.id && first.status == .failed && first.attempts == 1 && first.lastError?.contains("missing") == true)
            #expect(try f.registry.runOneJob(worker: "w", leaseSeconds: 60) == nil)
        }
    }
}
