import Foundation
import LoRA
import QuiverCore
import QuiverTesting
import SafeTensors
import Testing

/// `digests()` reads the weights file once for both digests; they must be exactly the digests computed apart.
@Suite("Both digests in one pass")
struct OnePassDigestTests {
    static let directories: [URL] = AdapterRoundTripTests.allConfigDirectories.filter {
        FileManager.default.fileExists(atPath: $0.appendingPathComponent(LoRAAdapter.weightsFileName).path)
    }

    @Test("one pass gives the digests of the separate passes", arguments: directories)
    func onePassEqualsSeparatePasses(directory: URL) throws {
        let together = try LoRAAdapter.load(directory: directory).digests()
        let apart = try LoRAAdapter.load(directory: directory)
        #expect(together.canonical == apart.canonicalDigest)
        #expect(together.weights == apart.weightsDigest)
        #expect(together.weights == (try SHA256Digest.ofFile(at: directory.appendingPathComponent(LoRAAdapter.weightsFileName))))
    }

    /// Tensors stored out of code-point order (another dtype first, a reversed layout) and empty tensors: the
    /// digests are still exact (the one-pass walk declines the layout, or handles it).
    @Test func unusualLayouts() throws {
        let out = try Fixtures.temporaryDirectory("one-pass")
        defer { try? FileManager.default.removeItem(at: out) }
        let config = AdapterConfig(baseModelNameOrPath: "tiny", r: 2, loraAlpha: 4, targetModules: .list(["q", "v"]))
        try config.jsonData().write(to: out.appendingPathComponent(LoRAAdapter.configFileName))
        let big = (0..<300_000).map { Float($0 % 977) * 0.001 }
        let layouts: [[TensorToWrite]] = [
            [TensorToWrite(name: "base_model.model.m.v.lora_A.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6], dtype: .BF16),
             TensorToWrite(name: "base_model.model.m.v.lora_B.weight", shape: [3, 2], values: [1, 2, 3, 4, 5, 6], dtype: .BF16),
             TensorToWrite(name: "base_model.model.m.q.lora_A.weight", shape: [2, 150_000], values: big),
             TensorToWrite(name: "base_model.model.m.q.lora_B.weight", shape: [0, 2], values: [])],
            [TensorToWrite(name: "base_model.model.m.q.lora_A.weight", shape: [2, 150_000], values: big),
             TensorToWrite(name: "base_model.model.m.q.lora_B.weight", shape: [0, 2], values: []),
             TensorToWrite(name: "base_model.model.m.v.lora_A.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
             TensorToWrite(name: "base_model.model.m.v.lora_B.weight", shape: [3, 2], values: [1, 2, 3, 4, 5, 6])],
        ]
        for tensors in layouts {
            // In the order given (not the writer's reference order), so one layout is out of code-point order.
            try SafeTensorsWriter.write(tensors, metadata: ["k": "v"], to: out.appendingPathComponent(LoRAAdapter.weightsFileName))
            let together = try LoRAAdapter.load(directory: out)
            let both = together.digests()
            let apart = try LoRAAdapter.load(directory: out)
            #expect(both.canonical == apart.canonicalDigest)
            #expect(both.weights == apart.weightsDigest)
            // The registration check takes the same digests (one pass, or its two-thread fallback).
            let checked = try LoRAAdapter.load(directory: out)
            try checked.requireFiniteWeightsAndDigests()
            #expect(checked.digests().canonical == apart.canonicalDigest)
            #expect(checked.digests().weights == apart.weightsDigest)
        }
    }

    /// A file over one stride (8 MiB) gets its chain from either way of computing its digest: the one pass that
    /// gives both digests (a merge's output) and the registration check's two threads.
    @Test func bothWaysRecordTheChainOfTheFile() throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let out = try Fixtures.temporaryDirectory("chain")
        defer { try? FileManager.default.removeItem(at: out) }
        let config = AdapterConfig(baseModelNameOrPath: "tiny", r: 8, loraAlpha: 16, targetModules: .list(["q"]))
        try config.jsonData().write(to: out.appendingPathComponent(LoRAAdapter.configFileName))
        let width = 180_000  // two 8 × 180,000 F32 tensors: 11.5 MB, one boundary inside
        let values = (0..<(8 * width)).map { Float($0 % 1013) * 0.0005 }
        try SafeTensorsWriter.write([
            TensorToWrite(name: "base_model.model.m.q.lora_A.weight", shape: [8, width], values: values),
            TensorToWrite(name: "base_model.model.m.q.lora_B.weight", shape: [width, 8], values: values),
        ], metadata: ["format": "pt"], to: out.appendingPathComponent(LoRAAdapter.weightsFileName))
        let bytes = try Data(contentsOf: out.appendingPathComponent(LoRAAdapter.weightsFileName))
        let reference = SHA256Chain.digest(size: Int64(bytes.count)) { feed in bytes.withUnsafeBytes { feed($0) } }
        let expected = try #require(reference.chain)
        #expect(expected.boundaries == 1)

        let onePass = try LoRAAdapter.load(directory: out)
        #expect(onePass.digests().weights == reference.digest)
        #expect(onePass.weightsChain == expected)
        let checked = try LoRAAdapter.load(directory: out)
        try checked.requireFiniteWeightsAndDigests()
        #expect(checked.weightsChain == expected)
    }

    @Test("the registration check gives the same digests on two threads", arguments: directories)
    func registrationCheckDigests(directory: URL) throws {
        let checked = try LoRAAdapter.load(directory: directory)
        try checked.requireFiniteWeightsAndDigests()
        let apart = try LoRAAdapter.load(directory: directory)
        #expect(checked.digests().canonical == apart.canonicalDigest)
        #expect(checked.digests().weights == apart.weightsDigest)
    }

    /// The check fused into the canonical hashing finds a NaN or an infinity wherever it is (first or last element,
    /// a piece boundary of a tensor larger than one piece, every float dtype) and names it as the full scan does;
    /// integer tensors and finite values pass.
    @Test func registrationCheckFindsEveryNonFiniteValue() throws {
        let out = try Fixtures.temporaryDirectory("fused-finite")
        defer { try? FileManager.default.removeItem(at: out) }
        let config = AdapterConfig(baseModelNameOrPath: "tiny", r: 2, loraAlpha: 4, targetModules: .list(["q"]))
        try config.jsonData().write(to: out.appendingPathComponent(LoRAAdapter.configFileName))
        let count = 2 * 100_000  // 800 KB as F32: more than three 256 KiB pieces
        for dtype in [DType.F32, .F16, .BF16, .F64] {
            for (position, bad) in [(0, Float.nan), (count - 1, .infinity), (65_536, -.infinity), (count / 2, .nan), (-1, 0)] {
                var values = (0..<count).map { Float($0 % 251) * 0.01 }
                if position >= 0 { values[position] = bad }
                try SafeTensorsWriter.write([
                    TensorToWrite(name: "base_model.model.m.q.lora_A.weight", shape: [2, count / 2], values: values, dtype: dtype),
                    TensorToWrite(name: "base_model.model.m.q.lora_B.weight", shape: [2, 2], values: [1, 2, 3, 4], dtype: dtype),
                ], metadata: [:], to: out.appendingPathComponent(LoRAAdapter.weightsFileName))
                if position < 0 {
                    try LoRAAdapter.load(directory: out).requireFiniteWeightsAndDigests()
                    continue
                }
                let full = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: out).requireFiniteWeights() }
                let fused = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: out).requireFiniteWeightsAndDigests() }
                #expect(fused?.kind == .nonFiniteWeight)
                #expect(fused?.description == full?.description)
                #expect(fused?.detail.contains("element \(position)") == true, "\(dtype): \(fused?.detail ?? "not refused")")
            }
        }
    }

    @Test func assumedDigestsAreKept() throws {
        let directory = try #require(Self.directories.first)
        let adapter = try LoRAAdapter.load(directory: directory)
        let fake = SHA256Digest.of(Data("x".utf8))
        adapter.assumeDigests(canonical: fake, weights: nil)
        #expect(adapter.canonicalDigest == fake)
        #expect(adapter.digests().canonical == fake)
        #expect(adapter.weightsDigest == (try LoRAAdapter.load(directory: directory).weightsDigest))
    }
}
