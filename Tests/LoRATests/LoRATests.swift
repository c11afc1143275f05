import Foundation
import LoRA
import QuiverCore
import QuiverTesting
import SafeTensors
import Testing

/// `manifest.json` of the PEFT golden fixtures.
struct GoldenManifest {
    static var json: [String: Any] {
        let data = (try? Data(contentsOf: Fixtures.peftGolden.appendingPathComponent("manifest.json"))) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }
    static var adapters: [String: [String: Any]] { (json["adapters"] as? [String: [String: Any]]) ?? [:] }
    static var adapterNames: [String] { adapters.keys.sorted() }
    static var mergeDirectories: [String] {
        let root = Fixtures.peftGolden.appendingPathComponent("merges")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasSuffix(".safetensors") }.sorted()
    }
}

func adapterURL(_ name: String) -> URL { Fixtures.peftGolden.appendingPathComponent("adapters/\(name)") }

@Suite("LoRA adapters from PEFT")
struct LoRAAdapterTests {
    @Test("every golden adapter loads and agrees with manifest.json", arguments: GoldenManifest.adapterNames)
    func agreesWithManifest(name: String) throws {
        let expected = try #require(GoldenManifest.adapters[name])
        let adapter = try LoRAAdapter.load(directory: adapterURL(name))
        let config = adapter.config
        #expect(config.r == expected["r"] as? Int)
        #expect(config.loraAlpha == (expected["lora_alpha"] as? NSNumber)?.doubleValue)
        guard case let .list(targetList) = config.targetModules else { Issue.record("target_modules is not a list"); return }
        #expect(Set(targetList) == Set(try #require(expected["target_modules"] as? [String])))
        #expect(config.useRslora == (expected["use_rslora"] as? Bool ?? false))
        #expect(config.useDora == (expected["use_dora"] as? Bool ?? false))
        #expect(config.rankPattern == (expected["rank_pattern"] as? [String: Int] ?? [:]))
        #expect(config.alphaPattern == ((expected["alpha_pattern"] as? [String: NSNumber]) ?? [:]).mapValues(\.doubleValue))
        #expect(config.baseModelNameOrPath == GoldenManifest.json["base_model"] as? String || name == "a7_otherbase")
        // Two layers, one module per target each.
        let targets = try #require(expected["target_modules"] as? [String])
        #expect(adapter.modules.count == 2 * targets.count)
        for module in adapter.modules {
            #expect(targets.contains { module.path.hasSuffix(".\($0)") })
            #expect(module.kind == .linear)
            #expect(module.keyA == loraTensorKeys(modulePath: module.path).a)
            #expect(module.keyB == loraTensorKeys(modulePath: module.path).b)
            #expect((module.magnitudeKey != nil) == config.useDora)
            let (a, b) = try adapter.factors(module.path)
            #expect(a.count == module.rank * module.inFeatures)
            #expect(b.count == module.outFeatures * module.rank)
        }
        #expect(adapter.modules.map(\.path) == adapter.modules.map(\.path).sorted())
    }

    @Test("effective rank, alpha and scaling follow PEFT's rules")
    func scalingRules() throws {
        let pattern = try LoRAAdapter.load(directory: adapterURL("a8_pattern"))
        for module in pattern.modules {
            if module.path == "model.layers.1.self_attn.q_proj" {
                #expect(module.rank == 4 && module.alpha == 4 && module.scaling == 1)
            } else {
                #expect(module.rank == 8 && module.alpha == 16 && module.scaling == 2)
            }
        }
        let rslora = try LoRAAdapter.load(directory: adapterURL("a5_rslora"))
        #expect(rslora.modules.allSatisfy { $0.scaling == 16 / Double(8).squareRoot() })
        let a3 = try LoRAAdapter.load(directory: adapterURL("a3"))
        #expect(a3.modules.allSatisfy { $0.scaling == 1 })
        let a4 = try LoRAAdapter.load(directory: adapterURL("a4"))
        #expect(a4.modules.allSatisfy { $0.rank == 4 && $0.scaling == 2 })
    }

    @Test("PEFT's pattern-key rule: a regex matching a dot-separated tail, first key in file order wins")
    func patternKeyRule() throws {
        var config = AdapterConfig(baseModelNameOrPath: nil, r: 8, loraAlpha: 16, targetModules: .list(["q_proj"]))
        config.rankPattern = ["layers.1.self_attn.q_proj": 4, "q_proj": 2]
        #expect(config.rank(for: "model.layers.1.self_attn.q_proj") == 4)
        #expect(config.rank(for: "model.layers.0.self_attn.q_proj") == 2)
        #expect(config.rank(for: "model.layers.0.self_attn.xq_proj") == 8)  // not at a dot boundary
        #expect(config.rank(for: "model.layers.11.self_attn.q_proj") == 2)  // "layers.1." must not match "layers.11."
        config.rankPattern = [#"layers\.\d+\.mlp\..*"#: 3]
        #expect(config.rank(for: "model.layers.7.mlp.up_proj") == 3)
        #expect(config.rank(for: "model.layers.7.self_attn.q_proj") == 8)
        let data = Data(#"{"peft_type": "LORA", "r": 8, "lora_alpha": 8, "target_modules": ["q_proj"], "rank_pattern": {"q_proj": 2, "layers.1.self_attn.q_proj": 4}}"#.utf8)
        let parsed = try AdapterConfig.parse(data, file: "inline")
        #expect(parsed.rank(for: "model.layers.1.self_attn.q_proj") == 2, "the first key in file order wins, as in PEFT")
    }

    @Test("a PEFT merged adapter's scaling·B·A reproduces PEFT's delta", arguments: GoldenManifest.mergeDirectories)
    func deltaMatchesPEFT(name: String) throws {
        let directory = Fixtures.peftGolden.appendingPathComponent("merges/\(name)")
        let adapter = try LoRAAdapter.load(directory: directory)
        let deltas = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("delta.safetensors"))
        #expect(deltas.tensors.count == adapter.modules.count)
        for module in adapter.modules {
            let expected = try deltas.floats(module.path)
            let (a, b) = try adapter.factors(module.path)
            #expect(deltas.info(module.path)?.shape == [module.outFeatures, module.inFeatures])
            let scale = max(expected.map(abs).max() ?? 0, 1e-12)
            var worst: Float = 0
            for row in 0..<module.outFeatures {
                for column in 0..<module.inFeatures {
                    var sum: Double = 0
                    for k in 0..<module.rank { sum += Double(b[row * module.rank + k]) * Double(a[k * module.inFeatures + column]) }
                    let value = Float(module.scaling * sum)
                    worst = max(worst, abs(value - expected[row * module.inFeatures + column]) / scale)
                }
            }
            #expect(worst < 1e-5, "\(name) \(module.path): relative error \(worst)")
        }
    }

    @Test("DoRA magnitude vectors are recognised")
    func doraMagnitudes() throws {
        let adapter = try LoRAAdapter.load(directory: adapterURL("a6_dora"))
        for module in adapter.modules {
            #expect(module.magnitudeKey == loraMagnitudeKey(modulePath: module.path))
            #expect(try adapter.magnitude(module.path)?.count == module.outFeatures)
        }
        #expect(try LoRAAdapter.load(directory: adapterURL("a1")).magnitude("model.layers.0.self_attn.q_proj") == nil)
        #expect(throws: LoRAError(.moduleNotFound, at: "", "")) { try adapter.factors("model.nothing") }
    }
}
