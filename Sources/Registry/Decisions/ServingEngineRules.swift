import LoRA

/// A serving engine a version can be published for.
public enum ServingEngine: String, Sendable, Codable, CaseIterable {
    case vllm
    case lorax

    /// vLLM's default `--max-lora-rank` (LoRAX is given the same default: pass the limit your server runs with).
    public static let defaultMaxLoraRank = 16
}

/// What a publish is checked against: the engine, its rank limit, and (optionally) the module names the served base
/// model has.
public struct EngineRequirements: Sendable, Codable, Equatable {
    public var engine: ServingEngine
    public var maxLoraRank: Int
    /// Module names (last path component: `q_proj`, `down_proj`, …) of the base model; nil: not checked.
    public var baseModules: [String]?

    public init(engine: ServingEngine = .vllm, maxLoraRank: Int = ServingEngine.defaultMaxLoraRank, baseModules: [String]? = nil) {
        self.engine = engine
        self.maxLoraRank = maxLoraRank
        self.baseModules = baseModules
    }
}

/// What the target engine refuses to load, decided before anything is written: each case a distinct named refusal
/// (`publish.*`, kind refusal), so a publish fails here instead of a serving engine failing later.
///
/// - vLLM (0.32): a rank above `--max-lora-rank` (`r`, every `rank_pattern` value and every module's effective
///   rank), DoRA (`use_dora`, "vLLM does not yet support DoRA"), `modules_to_save`, `bias` other than `none`,
///   and target modules the base model does not have (checked only when its modules are given).
/// - LoRAX: the same rank limit, and its adapter format: a PEFT LoRA (`peft_type` LORA) with safetensors weights,
///   which every registered version is; and the base model's modules when given.
public enum ServingEngineRules {
    public static func check(config: AdapterConfig, modules: [RecordedModule], label: String, requirements: EngineRequirements) throws {
        let engine = requirements.engine.rawValue
        guard config.peftType == "LORA" else {
            throw refusal("adapter_format_unsupported", "\(label) is a \(config.peftType) adapter; \(engine) loads PEFT LoRA adapters only")
        }
        var ranks: [(what: String, rank: Int)] = [("r", config.r)]
        ranks += config.rankPattern.sorted { $0.key < $1.key }.map { ("rank_pattern['\($0.key)']", $0.value) }
        ranks += modules.map { ("module \($0.path)", $0.rank) }
        if let top = ranks.max(by: { $0.rank < $1.rank }), top.rank > requirements.maxLoraRank {
            throw refusal(
                "rank_exceeds_engine_limit", "\(label) has rank \(top.rank) (\(top.what)), above the \(engine) server's max LoRA rank \(requirements.maxLoraRank)",
                hint: "start \(engine) with a larger --max-lora-rank and pass it here (--max-lora-rank), or publish a lower-rank version (merge with --method svd --svd-rank \(requirements.maxLoraRank))")
        }
        if requirements.engine == .vllm {
            if config.useDora {
                throw refusal("dora_unsupported", "\(label) is a DoRA adapter (use_dora); vLLM does not load DoRA adapters",
                              hint: "publish a plain LoRA version; vLLM answers 500 'vLLM does not yet support DoRA' otherwise")
            }
            if let saved = config.modulesToSave, !saved.isEmpty {
                throw refusal("modules_to_save_unsupported", "\(label) saves whole modules (modules_to_save: \(saved.joined(separator: ", "))); vLLM loads only LoRA factors",
                              hint: "train without modules_to_save, or serve this adapter with PEFT")
            }
            if config.bias != "none" {
                throw refusal("bias_unsupported", "\(label) trains biases (bias \"\(config.bias)\"); vLLM loads adapters with bias \"none\" only",
                              hint: "train with bias=\"none\", or serve this adapter with PEFT")
            }
        }
        if let base = requirements.baseModules {
            let known = Set(base)
            let missing = Set(modules.map { $0.path.split(separator: ".").last.map(String.init) ?? $0.path }).subtracting(known).sorted()
            if !missing.isEmpty {
                throw refusal(
                    "unknown_target_module", "\(label) adapts \(missing.joined(separator: ", ")), which the base model does not have (it has \(base.sorted().joined(separator: ", ")))",
                    hint: "publish for the base model the adapter was trained on (--base-modules or --base-config)")
            }
        }
    }

    static func refusal(_ code: String, _ reason: String, hint: String = "") -> RegistryError {
        RegistryError(.refusal, code: "publish.\(code)", reason: reason, hint: hint)
    }
}
