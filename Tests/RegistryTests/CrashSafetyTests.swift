import Foundation
import LoRA
import QuiverTesting
import Testing
@testable import Registry

@Suite("Registry: a failed registration leaves nothing referenced", .serialized)
struct CrashSafetyTests {
    struct Injected: Error {}

    @Test func failureInsideTheTransactionLeavesOnlyUnreferencedBlobs() throws {
        try RegistryFixture.with { f in
            let adapter = try LoRAAdapter.load(directory: RegistryFixture.golden("a1"))
            #expect(throws: Injected.self) {
                try f.registry.store(adapter: adapter, name: "tone", kind: .trained, tags: [:], baseRevision: nil) { _, _ in throw Injected() }
            }
            for table in ["adapters", "adapter_versions", "version_modules", "version_blobs", "blobs", "audit_events"] {
                #expect(try f.count("SELECT count(*) FROM \(table)") == 0, "\(table) must be empty after the rollback")
            }
            // The uploaded blobs are there but unreferenced: gc takes them once they are past the grace period.
            #expect(try f.s3.exists(digest: adapter.weightsDigest))
            f.clock.advance(by: 2) // past the grace period (S3 Last-Modified has one-second resolution)
            let swept = try f.registry.collectGarbage(graceSeconds: 0)
            #expect(Set(swept.deleted) == [adapter.weightsDigest.hex, adapter.configDigest.hex])
            // And a retry registers the whole version.
            let outcome = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            #expect(!outcome.existed && outcome.version.version == 1)
            #expect(try f.registry.verify(outcome.version).passed)
        }
    }

    @Test func jobMergeIsRecordedAsTheRequesters() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let alice = f.acting(as: "alice")
            let job = try alice.enqueueMerge(MergeJobRequest(inputs: ["tone", "json@1"], into: "blend", request: .init(method: .linear)))
            let worker = f.acting(as: "worker-account")
            let done = try #require(try worker.runOneJob(worker: "w1", leaseSeconds: 30))
            #expect(done.id == job.id && done.status == .succeeded)
            #expect(try f.count("SELECT count(*) FROM merges WHERE requested_by = 'alice'") == 1)
            #expect(try f.count("SELECT count(*) FROM merge_jobs WHERE merge_id IS NOT NULL") == 1)
            #expect(try f.registry.resolve("blend").createdBy == "alice")
        }
    }
}
