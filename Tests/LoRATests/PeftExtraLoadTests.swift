import Foundation
import LoRA
import QuiverTesting
import Testing

/// Adapters PEFT writes with base-model tensors next to the factors (found by bench/peft/compat_sweep.py).
@Suite("PEFT extra tensors")
struct PeftExtraLoadTests {
    func load(_ name: String) throws -> LoRAAdapter {
        try LoRAAdapter.load(directory: Fixtures.peftExtra.appendingPathComponent(name))
    }

    @Test func savedEmbeddingBaseLayerIsAccepted() throws {
        let adapter = try load("embed_base_layer")
        #expect(adapter.baseModelTensors == ["base_model.model.model.embed_tokens.base_layer.weight"])
        let embedding = try #require(adapter.module("model.embed_tokens"))
        #expect(embedding.kind == .embedding)
        #expect(adapter.modules.map(\.path).filter { $0.hasSuffix("q_proj") }.count == 2)
    }

    @Test func trainedBiasesOfBiasAllAreAccepted() throws {
        let adapter = try load("bias_all")
        #expect(adapter.config.bias == "all")
        let biases = Set(adapter.baseModelTensors)
        #expect(biases.contains("base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias"))
        #expect(biases.contains("base_model.model.model.layers.1.self_attn.k_proj.bias"))
        #expect(biases.allSatisfy { $0.hasSuffix(".bias") })
        #expect(adapter.modules.count == 4)
    }
}
