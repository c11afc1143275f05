import Foundation
import LoRA
import QuiverTesting
import SafeTensors
import Testing
@testable import Merge

/// `MergeEngine.merge(…, into:)` streams each module into the weights file as it is merged; the directory it writes
/// must be the one the in-memory merge plus `LoRAWriter` writes, byte for byte, for every method and input shape.
@Suite("Merge: streamed into the output file")
struct StreamedWriteTests {
    /// Both files of both directories, compared byte for byte.
    func expectSameDirectories(_ streamed: URL, _ whole: URL, _ label: String) throws {
        for name in [LoRAAdapter.weightsFileName, LoRAAdapter.configFileName] {
            let a = try Data(contentsOf: streamed.appendingPathComponent(name))
            let b = try Data(contentsOf: whole.appendingPathComponent(name))
            #expect(a == b, "\(label): \(name) differs (\(a.count) vs \(b.count) bytes)")
        }
        // Nothing else is left behind (no temporary files).
        let left = try FileManager.default.contentsOfDirectory(atPath: streamed.path).sorted()
        #expect(left == [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName].sorted(), "\(label): \(left)")
    }

    func compare(_ inputs: [LoRAAdapter], _ request: MergeRequest, threads: Int? = nil, _ label: String) throws {
        let root = try Fixtures.temporaryDirectory("streamed")
        defer { try? FileManager.default.removeItem(at: root) }
        let whole = root.appendingPathComponent("whole"), streamed = root.appendingPathComponent("streamed")
        let result = try MergeEngine.merge(inputs: inputs, request: request, threads: threads)
        try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: whole)
        let written = try MergeEngine.merge(inputs: inputs, request: request, threads: threads, into: streamed)
        try expectSameDirectories(streamed, whole, label)
        #expect(written.metadata == result.metadata, "\(label)")
        #expect(written.config == result.config, "\(label)")
        #expect(written.report.modules.map(\.rank) == result.report.modules.map(\.rank), "\(label)")
    }

    /// Every method on the golden adapters: the streamed factor-space methods and uncapped cat, and the truncating
    /// ones (svd, capped cat, the dense-SVD family), which are merged whole and then written.
    @Test(arguments: MergeMethod.allCases)
    func sameBytesAsTheWholeWrite(method: MergeMethod) throws {
        let names = method == .slerp ? ["a1", "a2"] : ["a1", "a2", "a3"]
        let inputs = try names.map(goldenAdapter)
        let request = MergeRequest(
            method: method, weights: method == .slerp ? nil : [0.5, 0.3, 0.2], density: method.usesDensity ? 0.6 : nil,
            svdRank: method.usesSVDRank && method != .cat ? 4 : nil, t: method == .slerp ? 0.3 : nil, seed: 11,
            allowScalingMismatch: true)
        for threads in [1, 2, 3] {
            try compare(inputs, request, threads: threads, "\(method.rawValue), \(threads) threads")
        }
        if method == .cat {
            try compare(inputs, MergeRequest(method: .cat, weights: [0.5, 0.3, 0.2], svdRank: 8), "cat capped at 8")
        }
    }

    /// Inputs adapting different modules (an input missing from some), a saved full module copy and a saved
    /// embedding base layer with LoRA embedding tensors: the carried tensors land at their place in the layout.
    @Test func carriedTensorsAndUnevenModulesLandInPlace() throws {
        func extra(_ name: String) throws -> LoRAAdapter {
            try LoRAAdapter.load(directory: Fixtures.peftExtra.appendingPathComponent(name))
        }
        try compare([try extra("lm_head_saved"), try extra("plain")], MergeRequest(method: .linear), "modules_to_save")
        try compare([try extra("embed_base_layer"), try extra("plain")], MergeRequest(method: .cat), "embedding base layer")
        try compare([try goldenAdapter("a1"), try goldenAdapter("a10_mlp")], MergeRequest(method: .cat, weights: [1, 0.5]), "uneven modules")
    }

    /// A merge that fails in a worker, after other modules were already written, leaves nothing in the directory.
    @Test func aFailedMergeLeavesNoFile() throws {
        let root = try Fixtures.temporaryDirectory("streamed-fail")
        defer { try? FileManager.default.removeItem(at: root) }
        let inputs = try ["a1", "a2"].map(goldenAdapter)
        let request = MergeRequest(method: .linear, weights: [1e308, 1e308])
        let error = #expect(throws: MergeError.self) { try MergeEngine.merge(inputs: inputs, request: request, into: root) }
        #expect(error?.kind == .nonFiniteOutput)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }
}

/// The in-place writer on its own: the header's size is fixed with the layout, and what does not fit is refused.
@Suite("SafeTensors: written in place")
struct InPlaceWriterTests {
    @Test func writesTheSameFileAsTheWholeWriterInAnyOrder() throws {
        let root = try Fixtures.temporaryDirectory("in-place")
        defer { try? FileManager.default.removeItem(at: root) }
        let tensors = [
            TensorToWrite(name: "b", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
            TensorToWrite(name: "a", shape: [4], values: [0.5, -0.5, 7, 8], dtype: .BF16),
            TensorToWrite(name: "c", shape: [1], dtype: .I64, rawBytes: [1, 0, 0, 0, 0, 0, 0, 0]),
        ]
        let metadata = ["format": "pt", "digest": String(repeating: "f", count: 64)]
        try SafeTensorsWriter.write(SafeTensorsWriter.referenceOrder(tensors), metadata: metadata, to: root.appendingPathComponent("whole.safetensors"))
        let layout = try tensors.map { try #require(TensorLayout(name: $0.name, shape: $0.shape, dtype: $0.dtype)) }
        let writer = try SafeTensorsInPlaceWriter(
            url: root.appendingPathComponent("placed.safetensors"), tensors: layout,
            metadata: ["format": "pt", "digest": String(repeating: "0", count: 64)])
        try [UInt8](arrayLiteral: 1, 0, 0, 0, 0, 0, 0, 0).withUnsafeBytes { try writer.write("c", bytes: $0) }
        try writer.write("a", values: [0.5, -0.5, 7, 8])
        try writer.write("b", values: [1, 2, 3, 4, 5, 6])
        try writer.finish(metadata: metadata, synchronize: true)
        #expect(try Data(contentsOf: root.appendingPathComponent("placed.safetensors"))
                == Data(contentsOf: root.appendingPathComponent("whole.safetensors")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).count == 2)
    }

    @Test func refusesWhatDoesNotFitAndLeavesNothingWhenAbandoned() throws {
        let root = try Fixtures.temporaryDirectory("in-place-refuse")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = try #require(TensorLayout(name: "w", shape: [2], dtype: .F32))
        let writer = try SafeTensorsInPlaceWriter(
            url: root.appendingPathComponent("x.safetensors"), tensors: [layout], metadata: ["k": "abc"])
        #expect(throws: SafeTensorsError.self) { try writer.write("w", values: [1, 2, 3]) }
        #expect(throws: SafeTensorsError.self) { try writer.write("other", values: [1, 2]) }
        try writer.write("w", values: [1, 2])
        // A value that no longer fits the header's padding would move the data: refused, nothing renamed into place.
        #expect(throws: SafeTensorsError.self) { try writer.finish(metadata: ["k": "abc" + String(repeating: "d", count: 9)], synchronize: false) }
        writer.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
        #expect(TensorLayout(name: "huge", shape: [Int.max, 2], dtype: .F32) == nil)
        #expect(TensorLayout(name: "negative", shape: [-1], dtype: .F32) == nil)
    }
}
