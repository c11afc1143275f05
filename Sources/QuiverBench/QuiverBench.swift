import ArgumentParser
import Foundation
import LoRA
import Merge
import QuiverCore
import SafeTensors

/// `quiver-bench`: generates Llama-2-7B-shaped adapters and times Quiver's merge methods on them.
@main
struct QuiverBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quiver-bench",
        abstract: "Generate 7B-shaped LoRA adapters and time Quiver's merges.",
        subcommands: [Generate.self, Run.self, IO.self, Floor.self, SVDFloor.self, AuditCatalog.self])
}

/// Llama-2-7B's adapted projections: (path suffix, out, in).
let llamaModules: [(String, Int, Int)] = [
    ("self_attn.q_proj", 4096, 4096), ("self_attn.k_proj", 4096, 4096), ("self_attn.v_proj", 4096, 4096),
    ("self_attn.o_proj", 4096, 4096), ("mlp.gate_proj", 11008, 4096), ("mlp.up_proj", 11008, 4096),
    ("mlp.down_proj", 4096, 11008),
]

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write seeded PEFT adapter directories (F32) to --out.")

    @Option(help: "Output directory; adapters go to OUT/adapter-<i>.")
    var out: String
    @Option var adapters = 3
    @Option var layers = 32
    @Option var rank = 16
    @Option var seed: UInt64 = 1

    func run() throws {
        let root = URL(fileURLWithPath: out)
        for index in 0..<adapters {
            var tensors: [TensorToWrite] = []
            var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index)
            for layer in 0..<layers {
                for (suffix, rows, cols) in llamaModules {
                    let path = "model.layers.\(layer).\(suffix)"
                    let keys = loraTensorKeys(modulePath: path)
                    tensors.append(TensorToWrite(name: keys.a, shape: [rank, cols], values: normals(rank * cols, 0.02, &state)))
                    tensors.append(TensorToWrite(name: keys.b, shape: [rows, rank], values: normals(rows * rank, 0.02, &state)))
                }
            }
            var config = AdapterConfig(
                baseModelNameOrPath: "meta-llama/Llama-2-7b-hf", r: rank, loraAlpha: Double(2 * rank),
                targetModules: .list(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
            config.taskType = "CAUSAL_LM"
            let directory = root.appendingPathComponent("adapter-\(index)")
            try LoRAWriter.write(config: config, tensors: tensors, metadata: [:], to: directory)
            print(directory.path)
        }
    }

    /// Gaussian values from SplitMix64 + Box-Muller (deterministic for a seed).
    func normals(_ count: Int, _ sigma: Float, _ state: inout UInt64) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u1 = (Double(z >> 32) + 1) * 0x1p-32, u2 = Double(z & 0xFFFF_FFFF) * 0x1p-32
            values[i] = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)) * sigma
        }
        return values
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge --inputs with --method, write the result, print {method, seconds, peak_rss_mb, per_layer_seconds}.")

    @Option(parsing: .upToNextOption) var inputs: [String]
    @Option var method: String
    @Option var density = 0.5
    @Option(help: "Weight of every input (default 1/n; bench/peft times PEFT with 1).") var weight: Double?
    @Option(name: .customLong("svd-rank")) var svdRank: Int?
    @Option var threads: Int?
    @Option var layers = 32
    @Option(help: "Where to write the merged adapter (default: a temporary directory, removed after).")
    var output: String?

    func run() throws {
        guard let parsed = MergeMethod(rawValue: method) else { throw ValidationError("unknown method \(method)") }
        let start = Date()
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        let request = MergeRequest(
            method: parsed, weights: Array(repeating: weight ?? 1.0 / Double(adapters.count), count: adapters.count),
            density: parsed.usesDensity ? density : nil, svdRank: svdRank, t: parsed == .slerp ? 0.5 : nil, seed: 7)
        // The input digests (recorded in the output's metadata) are computed inside the merge, overlapped with it.
        let mergeStart = Date()
        let result = try MergeEngine.merge(inputs: adapters, request: request, threads: threads)
        let mergeSeconds = Date().timeIntervalSince(mergeStart)
        let destination = output.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("quiver-bench-\(UUID().uuidString)")
        try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: destination)
        let seconds = Date().timeIntervalSince(start)
        if output == nil { try? FileManager.default.removeItem(at: destination) }
        var line: [String: Any] = [
            "method": method, "seconds": seconds, "peak_rss_mb": peakRSSMegabytes(),
            "merge_seconds": mergeSeconds, "per_layer_seconds": mergeSeconds / Double(layers),
        ]
        if let worst = result.report.maxRelativeTruncationError { line["max_relative_truncation_error"] = worst }
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }
}

struct IO: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Baseline: read every factor of --inputs and write one output of the same size as a cat merge.")

    @Option(parsing: .upToNextOption) var inputs: [String]

    func run() throws {
        let start = Date()
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        var tensors: [TensorToWrite] = []
        for (index, adapter) in adapters.enumerated() {
            for module in adapter.modules {
                let (a, b) = try adapter.factors(module.path)
                tensors.append(TensorToWrite(name: "\(index).\(module.keyA)", shape: [module.rank, module.inFeatures], values: a))
                tensors.append(TensorToWrite(name: "\(index).\(module.keyB)", shape: [module.outFeatures, module.rank], values: b))
            }
        }
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-bench-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(tensors, metadata: [:], to: destination.appendingPathComponent("out.safetensors"))
        let seconds = Date().timeIntervalSince(start)
        try? FileManager.default.removeItem(at: destination)
        let line: [String: Any] = ["method": "io_baseline", "seconds": seconds, "peak_rss_mb": peakRSSMegabytes()]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// The I/O floor of a whole-process merge: what any merge of these inputs must do at the least, and nothing else.
/// Every input's weights file is read once and hashed once (SHA-256, the inputs spread over all cores), and one
/// output of `--output-bytes` is written once the way Quiver writes a result (a temporary file in the output's
/// directory, rename; fsync first with `--fsync`, as `merge-files --fsync` does). The page cache is warm after the first run; time the whole process from outside
/// (`hyperfine`, `/usr/bin/time`) so its start-up counts as it does for `quiver merge-files`.
/// The compute floor of a dense-SVD merge of the inputs (`ComputeFloor`): its flops, at the sgemm rate measured
/// here on the widest product it makes, on every core. Prints one JSON line.
struct SVDFloor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svd-floor",
        abstract: "Compute floor of a *_svd merge: the dense products and the randomized SVD at this machine's sgemm rate.")

    @Option(parsing: .upToNextOption) var inputs: [String]
    @Option(name: .customLong("svd-rank"), help: "The output rank (default: the largest input rank).") var svdRank: Int?
    @Option(help: "Cores the merge runs modules on (default: all).") var cores: Int?

    func run() throws {
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        let descriptors = try adapters.map(MergeEngine.descriptor(for:))
        var flops = 0.0
        var widest = (rows: 0, cols: 0, l: 0)
        for module in descriptors[0].modules {
            let ranks = descriptors.compactMap { $0.modules.first { $0.path == module.path }?.rank }
            let k = svdRank ?? ranks.max() ?? module.rank
            flops += ComputeFloor.denseSVDFlops(rows: module.outFeatures, cols: module.inFeatures, inputRanks: ranks, outputRank: k)
            if module.outFeatures * module.inFeatures > widest.rows * widest.cols {
                widest = (module.outFeatures, module.inFeatures, min(module.outFeatures, module.inFeatures, max(k, ranks.reduce(0, +)) + 10))
            }
        }
        let rate = try ComputeFloor.sgemmRate(m: widest.rows, n: widest.l, k: widest.cols)
        let workers = Double(cores ?? ProcessInfo.processInfo.activeProcessorCount)
        let line: [String: Any] = [
            "method": "svd_compute_floor", "gflop": flops / 1e9, "sgemm_gflops_per_core": rate / 1e9, "cores": workers,
            "seconds": flops / (rate * workers),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }
}

struct Floor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "I/O floor: read + hash every input once, write one output of --output-bytes once (rename; --fsync to flush first).")

    @Option(parsing: .upToNextOption) var inputs: [String]
    @Option(name: .customLong("output-bytes"), help: "Size of the output to write (e.g. the merged file's size).")
    var outputBytes: Int
    @Option(help: "Directory to write the output into (default: the system's temporary directory); removed after.")
    var directory: String?
    @Option(help: "SHA-256 digests per input from its one read: 1 (the floor) or 2 (what a merge recording both the canonical and the file digest of every input must hash at the least).")
    var digests = 1
    @Flag(help: "Flush the output to the disk before the rename, as merge-files --fsync does.") var fsync = false

    func run() throws {
        let start = Date()
        let files = try inputs.map { try SafeTensorsFile(contentsOf: URL(fileURLWithPath: $0).appendingPathComponent(LoRAAdapter.weightsFileName)) }
        let both = digests > 1
        let hashes = try ParallelMap.run(count: files.count) { index in
            // Two digests the way a merge computes them (SHA256Pair: one pass, the two hashers interleaved).
            var hasher = SHA256Hasher(), pair = SHA256Pair()
            files[index].streamBytes(0..<files[index].fileSize) { window in
                var start = 0
                while start < window.count {
                    let piece = UnsafeRawBufferPointer(rebasing: window[start..<min(window.count, start + (256 << 10))])
                    if both { pair.updateBoth(piece) } else { hasher.update(piece) }
                    start += piece.count
                }
            }
            return both ? pair.finalize().first : hasher.finalize()
        }
        let parent = URL(fileURLWithPath: directory ?? FileManager.default.temporaryDirectory.path)
        let target = parent.appendingPathComponent("quiver-floor-\(UUID().uuidString).safetensors")
        // The output's bytes: the inputs' own (already read), written straight from the mappings, so writing costs
        // only the write.
        let descriptor = open(target.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw ValidationError("cannot create \(target.path)") }
        var remaining = outputBytes
        for file in files where remaining > 0 {
            let take = min(remaining, file.fileSize)
            try file.withFileBytes { bytes in
                do throws(PositionalWriteError) {
                    try PositionalWrite.all(UnsafeRawBufferPointer(rebasing: bytes[..<take]), to: descriptor)
                } catch {
                    throw ValidationError("write failed: \(error.message)")
                }
            }
            remaining -= take
        }
        guard !fsync || Glibc.fsync(descriptor) == 0, close(descriptor) == 0 else { throw ValidationError("fsync failed") }
        let final = parent.appendingPathComponent("quiver-floor-\(UUID().uuidString).out")
        guard rename(target.path, final.path) == 0 else { throw ValidationError("rename failed") }
        let seconds = Date().timeIntervalSince(start)
        try? FileManager.default.removeItem(at: final)
        let line: [String: Any] = [
            "method": "io_floor", "seconds": seconds, "peak_rss_mb": peakRSSMegabytes(),
            "input_bytes": files.reduce(0) { $0 + $1.fileSize }, "output_bytes": outputBytes - remaining,
            "digest_0": hashes.first?.hex ?? "", "digests_per_input": digests,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// VmHWM from /proc/self/status, in MiB (-1 where /proc is missing).
func peakRSSMegabytes() -> Double {
    PeakMemory.residentBytes().map { Double($0) / 1_048_576 } ?? -1
}
