import Foundation
import LoRA
import QuiverCore
import QuiverTesting
import SafeTensors
import Testing

@Suite("Writing adapters back")
struct AdapterRoundTripTests {
    static let allConfigDirectories: [URL] =
        GoldenManifest.adapterNames.map(adapterURL)
        + GoldenManifest.mergeDirectories.map { Fixtures.peftGolden.appendingPathComponent("merges/\($0)") }

    @Test("parse then write gives PEFT's exact config bytes", arguments: allConfigDirectories)
    func configRoundTrip(directory: URL) throws {
        let original = try Data(contentsOf: directory.appendingPathComponent("adapter_config.json"))
        let config = try AdapterConfig.parse(original, file: directory.lastPathComponent)
        #expect(try config.jsonData() == original)
        #expect(try AdapterConfig.parse(config.jsonData(), file: "again") == config)
    }

    @Test("a changed config is written in PEFT's format with unknown fields untouched")
    func changedConfigKeepsUnknownFields() throws {
        let text = #"{"peft_type": "LORA", "r": 8, "lora_alpha": 16.0, "target_modules": ["q_proj"], "zz_custom": {"b": [1, 2.50, "é"], "a": null}, "lora_dropout": 0.05}"#
        var config = try AdapterConfig.parse(Data(text.utf8), file: "inline")
        #expect(config.otherFields["zz_custom"] != nil)
        let unchanged = try #require(String(data: config.jsonData(), encoding: .utf8))
        #expect(unchanged.contains(#""lora_alpha": 16.0"#))
        #expect(unchanged.contains(#""lora_dropout": 0.05"#))
        #expect(unchanged.contains("\"zz_custom\": {\n    \"a\": null,\n    \"b\": [\n      1,\n      2.50,\n      \"\\u00e9\"\n    ]\n  }"))
        #expect(!unchanged.contains("use_dora"), "fields absent from the source stay absent while default")
        config.loraAlpha = 32
        config.useDora = true
        let changed = try #require(String(data: config.jsonData(), encoding: .utf8))
        #expect(changed.contains(#""lora_alpha": 32,"#))
        #expect(changed.contains(#""use_dora": true"#))
    }

    @Test("configs that are not LoRA, or not valid, are refused")
    func refusesBadConfigs() {
        let cases: [(String, LoRAError.Kind)] = [
            (#"{"peft_type": "IA3", "r": 8}"#, .unsupportedPeftType),
            (#"{"r": 8}"#, .invalidConfigField),
            (#"{"peft_type": "LORA", "r": 0}"#, .invalidConfigField),
            (#"{"peft_type": "LORA", "r": 8, "use_rslora": "yes"}"#, .invalidConfigField),
            (#"{"peft_type": "LORA", "r": 8, "target_modules": 3}"#, .invalidConfigField),
            (#"{"peft_type": "LORA", "r": 8, "rank_pattern": {"a": -1}}"#, .invalidConfigField),
            (#"{"peft_type": "LORA", "r": 8, "r": 8}"#, .malformedConfig),
            (#"["LORA"]"#, .malformedConfig),
            ("", .malformedConfig),
        ]
        for (text, kind) in cases {
            let error = #expect(throws: LoRAError.self) { try AdapterConfig.parse(Data(text.utf8), file: "inline") }
            #expect(error?.kind == kind, "\(text)")
        }
    }

    @Test("writing a loaded adapter back gives PEFT's exact bytes", arguments: GoldenManifest.adapterNames)
    func directoryRoundTrip(name: String) throws {
        let source = try LoRAAdapter.load(directory: adapterURL(name))
        let out = try Fixtures.temporaryDirectory("lora-rt")
        defer { try? FileManager.default.removeItem(at: out) }
        // Reversed on purpose: the writer restores PEFT's layout order.
        let tensors = try source.weights.tensors.reversed().map { try TensorToWrite(copying: $0.name, from: source.weights) }
        try LoRAWriter.write(config: source.config, tensors: tensors, metadata: source.weights.metadata, to: out)
        for file in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
            #expect(try Data(contentsOf: out.appendingPathComponent(file)) == Data(contentsOf: adapterURL(name).appendingPathComponent(file)), "\(file)")
        }
        let reloaded = try LoRAAdapter.load(directory: out)
        #expect(reloaded.modules == source.modules)
        #expect(reloaded.canonicalDigest == source.canonicalDigest)
        #expect(reloaded.weightsDigest == source.weightsDigest)
    }

    @Test("file digests are sha256 of the files; the canonical digest ignores formatting but not content")
    func digests() throws {
        let a1 = try LoRAAdapter.load(directory: adapterURL("a1"))
        #expect(a1.configDigest == SHA256Digest.of(try Data(contentsOf: adapterURL("a1").appendingPathComponent(LoRAAdapter.configFileName))))
        #expect(a1.weightsDigest == (try SHA256Digest.ofFile(at: adapterURL("a1").appendingPathComponent(LoRAAdapter.weightsFileName))))
        let a2 = try LoRAAdapter.load(directory: adapterURL("a2"))
        #expect(a1.canonicalDigest != a2.canonicalDigest)

        let out = try Fixtures.temporaryDirectory("lora-digest")
        defer { try? FileManager.default.removeItem(at: out) }
        var config = a1.config
        config.peftVersion = "0.99.0"
        config.inferenceMode = false
        config.targetModules = .list(["v_proj", "q_proj", "q_proj"])
        let tensors = try a1.weights.tensors.map { try TensorToWrite(copying: $0.name, from: a1.weights) }
        try SafeTensorsWriter.write(tensors.reversed(), metadata: ["note": "different"], to: out.appendingPathComponent(LoRAAdapter.weightsFileName))
        try config.jsonData().write(to: out.appendingPathComponent(LoRAAdapter.configFileName))
        let reformatted = try LoRAAdapter.load(directory: out)
        #expect(reformatted.weightsDigest != a1.weightsDigest)
        #expect(reformatted.configDigest != a1.configDigest)
        #expect(reformatted.canonicalDigest == a1.canonicalDigest)

        config.loraAlpha = 8
        try config.jsonData().write(to: out.appendingPathComponent(LoRAAdapter.configFileName))
        #expect(try LoRAAdapter.load(directory: out).canonicalDigest != a1.canonicalDigest)
    }

    @Test("embedding LoRA, fan_in_fan_out and modules_to_save are recognised")
    func otherLayouts() throws {
        let out = try Fixtures.temporaryDirectory("lora-embed")
        defer { try? FileManager.default.removeItem(at: out) }
        var config = AdapterConfig(baseModelNameOrPath: "tiny", r: 2, loraAlpha: 4, targetModules: .list(["embed_tokens", "c_attn"]))
        config.fanInFanOut = true
        config.modulesToSave = ["lm_head"]
        let tensors = [
            TensorToWrite(name: "base_model.model.model.embed_tokens.lora_embedding_A", shape: [2, 10], values: (0..<20).map(Float.init)),
            TensorToWrite(name: "base_model.model.model.embed_tokens.lora_embedding_B", shape: [6, 2], values: (0..<12).map(Float.init)),
            TensorToWrite(name: "base_model.model.h.0.attn.c_attn.lora_A.weight", shape: [2, 6], values: Array(repeating: 1, count: 12), dtype: .BF16),
            TensorToWrite(name: "base_model.model.h.0.attn.c_attn.lora_B.weight", shape: [18, 2], values: Array(repeating: 0.5, count: 36), dtype: .BF16),
            TensorToWrite(name: "base_model.model.lm_head.weight", shape: [10, 6], values: Array(repeating: 0, count: 60), dtype: .F16),
        ]
        try LoRAWriter.write(config: config, tensors: tensors, metadata: [:], to: out)
        let adapter = try LoRAAdapter.load(directory: out)
        #expect(adapter.weights.metadata == ["format": "pt"])
        let embedding = try #require(adapter.module("model.embed_tokens"))
        #expect(embedding.kind == .embedding && embedding.inFeatures == 10 && embedding.outFeatures == 6 && embedding.baseWeightTransposed)
        let conv1D = try #require(adapter.module("h.0.attn.c_attn"))
        #expect(conv1D.kind == .linear && conv1D.inFeatures == 6 && conv1D.outFeatures == 18 && conv1D.baseWeightTransposed && conv1D.dtype == .BF16)
        #expect(try adapter.factors("h.0.attn.c_attn").b == Array(repeating: 0.5, count: 36))
        #expect(adapter.savedModuleTensors == ["base_model.model.lm_head.weight"])
        // PEFT's layout: F32 before BF16 before F16, names in order within a dtype.
        #expect(adapter.weights.tensors.map(\.dtype) == [.F32, .F32, .BF16, .BF16, .F16])
    }
}

@Suite("Malformed adapter directories")
struct MalformedAdapterTests {
    static let cases: [URL] = {
        let root = Fixtures.root.appendingPathComponent("malformed/lora")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
    }()

    @Test("the corpus has a case for each adapter-level rule")
    func coversRules() {
        let kinds = Set(Self.cases.map { String($0.lastPathComponent.split(separator: "__")[0]) })
        for kind in LoRAError.Kind.allCases where ![.moduleNotFound, .writeFailed, .shapeMismatch].contains(kind) {
            #expect(kinds.contains(kind.rawValue), "no malformed adapter for \(kind)")
        }
    }

    @Test("each malformed adapter fails with its named error", arguments: cases)
    func refuses(directory: URL) throws {
        let expected = String(directory.lastPathComponent.split(separator: "__")[0])
        let kind = try #require(LoRAError.Kind(rawValue: expected))
        // What the registry accepts: a directory that loads and whose weights are all finite.
        let error = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: directory).requireFiniteWeights() }
        #expect(error?.kind == kind, "\(directory.lastPathComponent): \(error.map(String.init(describing:)) ?? "")")
        #expect(error?.description.contains(directory.lastPathComponent) == true)
    }

    @Test("the pickle refusal explains why and how to convert")
    func pickleMessage() {
        let directory = Fixtures.root.appendingPathComponent("malformed/lora/pickle_refused__bin_only")
        let error = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: directory) }
        #expect(error?.hint.contains("execute arbitrary code") == true)
        #expect(error?.hint.contains("safe_serialization=True") == true)
    }
}
