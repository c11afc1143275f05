import Foundation
import LoRA
import Merge
import QuiverCore
import QuiverTesting
import Registry
import SafeTensors
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real `quiver worker` processes: one renews its lease while a long merge runs and is then killed with SIGKILL;
/// another worker takes the job over once the lease lapses and finishes it.
@Suite("quiver worker processes", .serialized)
struct WorkerProcessTests {
    /// Two PEFT adapters whose `ties_svd` merge takes seconds: `modules` 2048×2048 q_proj modules at r = 16.
    static func writeSlowAdapters(into directory: URL, modules: Int = 6) throws -> [URL] {
        let width = 2048, rank = 16
        return try (1...2).map { seed in
            var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
            func next() -> Float {
                // splitmix64, mapped to [-0.01, 0.01): fast, deterministic, dense (no zero updates).
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                return (Float(z >> 40) / Float(1 << 24) - 0.5) * 0.02
            }
            var tensors: [TensorToWrite] = []
            for layer in 0..<modules {
                let path = "base_model.model.model.layers.\(layer).self_attn.q_proj"
                tensors.append(TensorToWrite(name: "\(path).lora_A.weight", shape: [rank, width], values: (0..<(rank * width)).map { _ in next() }))
                tensors.append(TensorToWrite(name: "\(path).lora_B.weight", shape: [width, rank], values: (0..<(width * rank)).map { _ in next() }))
            }
            let config = AdapterConfig(baseModelNameOrPath: "synthetic/slow-2048", r: rank, loraAlpha: 32, targetModules: .list(["q_proj"]))
            let out = directory.appendingPathComponent("slow-\(seed)", isDirectory: true)
            try LoRAWriter.write(config: config, tensors: tensors, metadata: [:], to: out)
            return out
        }
    }

    @Test func killedWorkerProcessJobIsFinishedByAnother() throws {
        let executable = Fixtures.quiverExecutable
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "build the quiver product first (swift build)")
        let server = try TestS3.require()
        let scratch = try Fixtures.temporaryDirectory("worker-process")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try RegistryFixture.with { f in
            let inputs = try Self.writeSlowAdapters(into: scratch)
            _ = try f.registry.register(directory: inputs[0], name: "left")
            _ = try f.registry.register(directory: inputs[1], name: "right")
            let request = MergeRequest(method: .tiesSVD, density: 0.5, svdRank: 16, seed: 7)
            let queued = try f.registry.enqueueMerge(MergeJobRequest(inputs: ["left", "right"], into: "slow-blend", request: request))

            // A real worker process, lease 3 s (renewed every second while the merge runs).
            let doomed = try ChildProcess.start(executable.path, [
                "worker", "--once", "--lease", "3s", "--worker-id", "doomed",
                "--database-url", f.databaseURL, "--blob-store", f.blobStoreURL, "--actor", "worker-host",
            ], environment: server.awsEnvironment)
            var killed = false
            defer {
                if !killed { doomed.send(SIGKILL) }
                _ = doomed.wait()
            }

            // Wait for its claim, then for a renewal: the lease moves later than the claim set it.
            let claimed = try Self.poll(seconds: 60) { () -> MergeJob? in
                let job = try f.registry.job(id: queued.id)
                return job.status == .running && job.leaseOwner == "doomed" ? job : nil
            }
            let firstLease = try #require(claimed.leaseExpiresAt)
            let renewed = try Self.poll(seconds: 10) { () -> MergeJob? in
                let job = try f.registry.job(id: queued.id)
                guard job.status == .running else { throw JobEndedEarly(status: job.status) }
                return (job.leaseExpiresAt ?? firstLease) > firstLease ? job : nil
            }
            // While the lease is held nobody else may take the job.
            #expect(try f.registry.claimJob(worker: "thief", leaseSeconds: 60) == nil)

            doomed.send(SIGKILL)
            killed = true
            let outcome = doomed.wait()
            #expect(outcome.status == 128 + SIGKILL)
            #expect(try f.registry.job(id: queued.id).status == .running, "killed mid-merge: the job still reads as running")
            #expect(try f.count("SELECT count(*) FROM adapter_versions WHERE kind = 'merged'") == 0)

            // Once its lease lapses, another worker takes the job over and finishes it.
            let lapse = (renewed.leaseExpiresAt ?? Date()).timeIntervalSinceNow
            f.clock.advance(by: max(0, lapse) + 0.5)
            let finished = try #require(try f.registry.runOneJob(worker: "rescuer", leaseSeconds: 60))
            #expect(finished.id == queued.id && finished.status == .succeeded && finished.attempts == 2)
            #expect(finished.leaseOwner == "rescuer")
            let version = try f.registry.resolve("slow-blend")
            #expect(version.id == finished.resultVersionID)
            #expect(try f.count("SELECT count(*) FROM adapter_versions WHERE kind = 'merged'") == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'job.claim'") == 2)
        }
    }

    /// Calls `body` every 50 ms until it returns a value, for at most `seconds`.
    static func poll<T>(seconds: Double, _ body: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try body() { return value }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw PollTimeout(seconds: seconds)
    }

    struct JobEndedEarly: Error, CustomStringConvertible {
        let status: JobStatus
        var description: String { "the job ended (\(status)) before the worker could be killed: make the merge slower" }
    }

    struct PollTimeout: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "the condition did not hold within \(seconds) s" }
    }
}
