import Foundation
import Merge
import QuiverTesting
import Testing
@testable import Registry

/// What is decided before a merge is queued: the same request answers with its recorded result, a refusal is
/// answered (and recorded) at once instead of being found later by a worker.
@Suite("Registry: merges decided before they are queued", .serialized)
struct PrecheckTests {
    @Test func aRecordedMergeIsAnsweredAndARefusalIsRecordedBeforeQueueing() throws {
        try RegistryFixture.with { f in
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            _ = try f.registry.register(directory: RegistryFixture.golden("a4"), name: "legacy")
            let request = MergeRequest(method: .ties, density: 0.5)
            #expect(try f.registry.precheckMerge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request) == nil)
            let done = try f.registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend", request: request)
            let again = try #require(try f.registry.precheckMerge(inputs: [.latest(name: "tone"), .version(name: "json", number: 1)], into: "blend", request: request))
            #expect(again.existed && again.version == done.version && again.mergeID == done.mergeID)

            // Through the service a queued request for the same merge is answered at once, nothing queued.
            let submitted = try f.registry.merge(MergeJobRequest(inputs: ["tone", "json"], into: "blend", request: request), queue: true)
            guard case .merged(let outcome) = submitted else { Issue.record("queued a merge that was done before"); return }
            #expect(outcome.mergeID == done.mergeID)
            #expect(try f.count("SELECT count(*) FROM merge_jobs") == 0)

            // legacy has r=4, tone r=8: ties refuses (a factor-space method needs equal ranks).
            let error = #expect(throws: MergeError.self) {
                try f.registry.precheckMerge(inputs: [.latest(name: "tone"), .latest(name: "legacy")], into: "mixed", request: request)
            }
            #expect(error?.errorKind == .refusal)
            #expect(try f.count("SELECT count(*) FROM merge_refusals") == 1)
        }
    }
}
