import Foundation
import Merge
import QuiverTesting
import Registry
import Testing

/// A worker that shuts down hands its job back: queued again, the attempt not used up, and only by the worker
/// that holds the lease.
@Suite("job release on shutdown")
struct JobReleaseTests {
    @Test func releaseRequeuesWithoutUsingTheAttemptAndOnlyForTheLeaseHolder() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let queued = try f.registry.enqueueMerge(MergeJobRequest(inputs: ["tone", "json"], into: "blend", request: MergeRequest(method: .linear)))
            let claimed = try #require(try f.registry.claimJob(worker: "server-1", leaseSeconds: 60))
            #expect(claimed.id == queued.id && claimed.attempts == 1)

            #expect(try f.registry.releaseJob(id: claimed.id, worker: "someone-else") == false, "only the lease holder may release")
            #expect(try f.registry.job(id: claimed.id).status == .running)
            #expect(try f.registry.releaseJob(id: claimed.id, worker: "server-1"))
            let released = try f.registry.job(id: claimed.id)
            #expect(released.status == .queued && released.attempts == 0 && released.leaseOwner == nil && released.leaseExpiresAt == nil)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'job.release'") == 1)

            // The released worker's late outcome changes nothing; the next claim runs it to success.
            #expect(try f.registry.releaseJob(id: claimed.id, worker: "server-1") == false)
            let next = try #require(try f.registry.claimJob(worker: "server-2", leaseSeconds: 60))
            #expect(next.id == claimed.id && next.attempts == 1)
            let done = try f.registry.runClaimedJob(next, worker: "server-2")
            #expect(done.status == .succeeded)
        }
    }
}
