import ArgumentParser
import Foundation
import QuiverCore
import Registry

extension ServingEngine: ExpressibleByArgument {}

/// `quiver publish REF --to DIR|s3://bucket/prefix`: a digest-named PEFT directory for a serving engine, with
/// `quiver.json`, signed provenance and an OpenSSF `model.sig`; checked first against what the engine refuses.
public struct PublishCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Write a version as NAME-<12 hex of its canonical digest>/ for vLLM or LoRAX, with quiver.json, signed provenance and model.sig.",
        discussion: """
            The version is checked first against what the engine refuses (a rank above --max-lora-rank, DoRA, \
            modules_to_save, bias, target modules the base lacks when --base-modules or --base-config names them): each \
            is a named refusal (exit 2) and nothing is written. A directory already published under the name is left \
            alone when it holds the same content (exit 0) and refused otherwise (publish.conflict, exit 2).
            """)

    @OptionGroup var options: RegistryOptions
    @Option(help: "Where to publish: a directory, or s3://bucket/prefix (AWS_* settings).") var to: String
    @Option(help: "Rewrite base_model_name_or_path to the served model's name (vLLM: the --model value); recorded in quiver.json and the provenance.")
    var baseModel: String?
    @Option(help: "The serving engine to check against: vllm or lorax.") var engine: ServingEngine = .vllm
    @Option(help: "The engine's rank limit (vLLM's --max-lora-rank; its default is 16).") var maxLoraRank: Int = ServingEngine.defaultMaxLoraRank
    @Option(help: "The base model's module names, comma-separated (e.g. q_proj,k_proj,v_proj,o_proj): adapted modules outside them are refused.")
    var baseModules: String?
    @Option(help: "The base model's config.json: its model_type gives the module names (llama, mistral, qwen2, qwen3, gemma, gemma2, mixtral, phi3, gpt2, opt).")
    var baseConfig: String?
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func validate() throws {
        _ = try AdapterRef.parse(ref)
        _ = try PublishTarget.parse(to)
        guard (1...65_536).contains(maxLoraRank) else {
            throw OptionError("invalid_option", "--max-lora-rank must be between 1 and 65536, got \(maxLoraRank)")
        }
        if baseModules != nil, baseConfig != nil {
            throw OptionError("invalid_option", "--base-modules and --base-config both name the base model's modules", hint: "pass one of them")
        }
        if let baseModules, Self.moduleList(baseModules).isEmpty {
            throw OptionError("invalid_option", "--base-modules lists no module", hint: "write e.g. --base-modules q_proj,k_proj,v_proj,o_proj")
        }
        if let baseModel, baseModel.isEmpty || baseModel.count > 256 {
            throw OptionError("invalid_option", "--base-model must have 1-256 characters")
        }
    }

    static func moduleList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func run() throws {
        var requirements = EngineRequirements(engine: engine, maxLoraRank: maxLoraRank)
        if let baseModules { requirements.baseModules = Self.moduleList(baseModules) }
        if let baseConfig {
            requirements.baseModules = try BaseArchitecture.modules(configJSON: try RegularFile.read(baseConfig, limit: 4 << 20), file: baseConfig)
        }
        let outcome = try options.service().publish(
            try AdapterRef.parse(ref), request: PublishRequest(requirements: requirements, baseModel: baseModel), to: try PublishTarget.parse(to))
        if json { return try printJSON(outcome) }
        print(Self.line(outcome, shownAs: outcome.location))
    }

    /// `published assistant@1 as DIR/assistant-…: …`, the location as the caller wants it shown.
    static func line(_ outcome: PublishOutcome, shownAs location: String) -> String {
        let manifest = outcome.manifest
        var text = outcome.alreadyPublished ? "already published: \(outcome.reference) as \(location)" : "published \(outcome.reference) as \(location)"
        text += " (\(manifest.engine), max LoRA rank \(manifest.maxLoraRank)"
        if let rewrite = manifest.baseModelRewrite { text += "; base model \(rewrite.from ?? "none") -> \(rewrite.to)" }
        text += "; \(manifest.provenance.path), \(manifest.provenance.modelSignature), \(Publication.manifestFileName))"
        return TerminalText.escape(text)
    }
}
