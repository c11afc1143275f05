import Foundation
import QuiverCore
import QuiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM while a job runs: the server stops at once, hands the job back (queued, attempt not used up) and exits 0.
@Suite("quiver serve graceful shutdown", .serialized)
struct ServerShutdownTests {
    /// A PEFT directory with `layers` × 4 attention projections at r=64 of a 4096-wide model (2 MiB per module),
    /// random F32 factors: big enough that a ties_svd merge of it takes seconds on this machine.
    static func writeBigAdapter(to directory: URL, layers: Int) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let hidden = 4096, rank = 64
        var names: [(String, [Int])] = []
        for layer in 0..<layers {
            for projection in ["k_proj", "o_proj", "q_proj", "v_proj"] {
                let path = "base_model.model.model.layers.\(layer).self_attn.\(projection)"
                names += [("\(path).lora_A.weight", [rank, hidden]), ("\(path).lora_B.weight", [hidden, rank])]
            }
        }
        names.sort { $0.0 < $1.0 }
        var entries: [String] = [#""__metadata__":{"format":"pt"}"#]
        var offset = 0
        for (name, shape) in names {
            let bytes = shape[0] * shape[1] * 4
            entries.append(#""\#(name)":{"dtype":"F32","shape":[\#(shape[0]),\#(shape[1])],"data_offsets":[\#(offset),\#(offset + bytes)]}"#)
            offset += bytes
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        var file = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var values = [Float](repeating: 0, count: offset / 4)
        for index in values.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values[index] = (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.04
        }
        values.withUnsafeBytes { file.append(contentsOf: $0) }
        try file.write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        let config = """
            {"base_model_name_or_path": "bench/llama-4096", "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": \(rank),
             "lora_alpha": 128, "lora_dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
             "use_rslora": false, "use_dora": false, "rank_pattern": {}, "alpha_pattern": {}, "fan_in_fan_out": false,
             "bias": "none", "modules_to_save": null, "layers_to_transform": null, "inference_mode": true}
            """
        try Data(config.utf8).write(to: directory.appendingPathComponent("adapter_config.json"))
    }

    @Test func sigtermHandsTheRunningJobBackAndExitsZero() throws {
        let server = try TestServer(arguments: ["--workers", "1"])
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let directory = try Fixtures.temporaryDirectory("big-adapter")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.writeBigAdapter(to: directory.appendingPathComponent("big"), layers: 8)
        let registered = try server.cli(["register", directory.appendingPathComponent("big").path, "--name", "big"])
        try #require(registered.status == 0, "\(registered.stderr)")

        let queued = try server.request("POST", "/v1/merges", body: .json(#"{"inputs": ["big", "big@1"], "into": "big-merged", "method": "ties_svd", "density": 0.5, "weights": [0.5, 0.5], "async": true}"#), token: admin)
        #expect(queued.status == 202, "\(queued)")
        var running = false
        for _ in 0..<100 where !running {
            running = try server.sql("SELECT status FROM merge_jobs WHERE id = 1") == "running"
            if !running { usleep(50_000) }
        }
        try #require(running, "the server's worker claimed the job")
        let started = Date()
        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(2000))")
        #expect(-started.timeIntervalSinceNow < 10, "the merge was not waited for")
        #expect(try server.sql("SELECT status || ' ' || attempts || ' ' || coalesce(lease_owner, '-') FROM merge_jobs WHERE id = 1") == "queued 0 -")
        #expect(try server.sql("SELECT count(*) FROM audit_events WHERE action = 'job.release'") == "1")
        #expect(stopped.stderr.contains("job handed back on shutdown"))
    }
}
