import Foundation
import LoRA
import QuiverTesting
import SafeTensors
import Testing
@testable import Merge

/// Merges of PEFT adapters whose whole tensors or layer restrictions the merged adapter must keep (found by
/// bench/peft/compat_sweep.py: PEFT failed to load, or silently ignored, Quiver's earlier output).
@Suite("PEFT extra merges")
struct PeftExtraMergeTests {
    func load(_ name: String) throws -> LoRAAdapter {
        try LoRAAdapter.load(directory: Fixtures.peftExtra.appendingPathComponent(name))
    }

    func written(_ result: MergeResult, _ key: String) -> TensorToWrite? { result.tensors.first { $0.name == key } }

    @Test(arguments: [["lm_head_saved", "plain"], ["plain", "lm_head_saved"]])
    func modulesToSaveCopyIsCarriedOver(order: [String]) throws {
        let inputs = try order.map(load)
        let saver = try #require(inputs.first { $0.config.modulesToSave != nil })
        let result = try MergeEngine.merge(inputs: inputs, request: MergeRequest(method: .cat))
        #expect(result.config.modulesToSave == ["lm_head"])
        let key = "base_model.model.lm_head.weight"
        let copy = try #require(written(result, key))
        let original = try TensorToWrite(copying: key, from: saver.weights)
        guard case let .raw(got) = copy.payload, case let .raw(want) = original.payload else {
            Issue.record("saved module copy should be a raw copy")
            return
        }
        #expect(got == want && copy.shape == original.shape && copy.dtype == original.dtype)
    }

    @Test func layerRestrictionOfTheFirstInputDoesNotDropOtherLayers() throws {
        let inputs = [try load("layers1"), try load("plain")]
        let result = try MergeEngine.merge(inputs: inputs, request: MergeRequest(method: .linear))
        let paths = result.report.modules.map(\.path)
        #expect(paths.contains("model.layers.0.self_attn.q_proj"))
        #expect(paths.allSatisfy(result.config.targets), "every merged module must be selected by the merged config")
        #expect(result.config.layersToTransform == nil && result.config.layersPattern == nil)
    }

    @Test func layerListsOfEveryInputAreJoined() throws {
        let layers1 = try load("layers1")
        var config = layers1.config
        config.layersToTransform = [0]
        let merged = MergeEngine.mergedConfig(
            inputs: [config, layers1.config],
            merged: [], method: .cat)
        #expect(merged.layersToTransform == [0, 1])
        #expect(merged.layersPattern == ["layers"])
    }

    @Test func savedEmbeddingBaseLayerIsCarriedOver() throws {
        let inputs = [try load("embed_base_layer"), try load("plain")]
        let result = try MergeEngine.merge(inputs: inputs, request: MergeRequest(method: .cat))
        #expect(written(result, "base_model.model.model.embed_tokens.base_layer.weight") != nil)
        #expect(written(result, "base_model.model.model.embed_tokens.lora_embedding_A") != nil)
    }

    @Test func savedBaseLayerInSeveralInputsIsKeptOnceOrRefusedWhenItDiffers() throws {
        let key = "base_model.model.model.embed_tokens.base_layer.weight"
        let original = try load("embed_base_layer")
        let twice = try MergeEngine.merge(inputs: [original, original], request: MergeRequest(method: .cat))
        #expect(twice.tensors.filter { $0.name == key }.count == 1)

        // The same adapter with one element of the saved embedding changed.
        let scratch = try Fixtures.temporaryDirectory("base-layer")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let changed = scratch.appendingPathComponent("embed_changed", isDirectory: true)
        try FileManager.default.copyItem(at: Fixtures.peftExtra.appendingPathComponent("embed_base_layer"), to: changed)
        let tensors = try original.weights.tensors.map { info in
            guard info.name == key else { return try TensorToWrite(copying: info.name, from: original.weights) }
            var values = try original.weights.floats(key)
            values[0] += 1
            return TensorToWrite(name: key, shape: info.shape, values: values, dtype: info.dtype)
        }
        try SafeTensorsWriter.write(tensors, metadata: original.weights.metadata, to: changed.appendingPathComponent("adapter_model.safetensors"))
        #expect {
            try MergeEngine.merge(inputs: [original, try LoRAAdapter.load(directory: changed)], request: MergeRequest(method: .cat))
        } throws: { error in
            guard let error = error as? MergeError else { return false }
            return error.reason.contains(key) && error.reason.contains("different values")
        }
    }

    @Test func trainedBiasesAreRefusedByName() throws {
        let inputs = [try load("bias_all"), try load("bias_all")]
        #expect {
            try MergeEngine.merge(inputs: inputs, request: MergeRequest(method: .cat))
        } throws: { error in
            guard let error = error as? MergeError else { return false }
            return error.reason.contains("bias_all") && error.reason.contains("bias") && error.hint.contains("\"none\"")
        }
    }
}
