import Foundation

/// The module names of a base model, from its Hugging Face `config.json`: what `--base-config` checks target modules
/// against. A config names an architecture (`model_type`), not its modules, so the names come from a table of the
/// architectures whose module names are known here; anything else needs `--base-modules`.
public enum BaseArchitecture {
    /// Linear (and embedding) module names by `model_type`, as the transformers implementations name them.
    public static let modules: [String: [String]] = [
        "llama": llamaLike, "mistral": llamaLike, "qwen2": llamaLike, "qwen3": llamaLike, "gemma": llamaLike, "gemma2": llamaLike,
        "mixtral": ["q_proj", "k_proj", "v_proj", "o_proj", "w1", "w2", "w3", "gate", "embed_tokens", "lm_head"],
        "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj", "embed_tokens", "lm_head"],
        "gpt2": ["c_attn", "c_proj", "c_fc", "wte", "lm_head"],
        "opt": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "embed_tokens", "lm_head"],
    ]

    static let llamaLike = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens", "lm_head"]

    /// The module names for a `config.json`'s bytes, or a named error (`publish.unknown_base_architecture`,
    /// `publish.bad_base_config`: invalid input).
    public static func modules(configJSON data: Data, file: String) throws -> [String] {
        struct ModelType: Decodable {
            let modelType: String?
            enum CodingKeys: String, CodingKey { case modelType = "model_type" }
        }
        guard let decoded = try? JSONDecoder().decode(ModelType.self, from: data) else {
            throw RegistryError(.invalidInput, code: "publish.bad_base_config", reason: "\(file) is not a JSON object",
                                hint: "pass the base model's config.json (--base-config), or its module names (--base-modules)")
        }
        guard let type = decoded.modelType else {
            throw RegistryError(.invalidInput, code: "publish.bad_base_config", reason: "\(file) has no model_type",
                                hint: "pass the base model's module names instead (--base-modules q_proj,v_proj,…)")
        }
        guard let names = modules[type] else {
            throw RegistryError(
                .invalidInput, code: "publish.unknown_base_architecture", reason: "model_type \"\(type)\" in \(file) is not an architecture Quiver knows the modules of",
                hint: "pass the base model's module names (--base-modules q_proj,v_proj,…); known: \(modules.keys.sorted().joined(separator: ", "))")
        }
        return names
    }
}
