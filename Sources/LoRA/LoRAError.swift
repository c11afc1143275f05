import QuiverCore

/// Why a PEFT LoRA adapter directory was refused or could not be written.
///
/// Equality compares the ``Kind`` only, so tests can match on what went wrong whatever the details.
public struct LoRAError: NamedError, Equatable {
    /// What went wrong; the raw value is the stable code suffix.
    public enum Kind: String, Sendable, CaseIterable {
        case missingConfig = "missing_config"
        case malformedConfig = "malformed_config"
        case invalidConfigField = "invalid_config_field"
        case unsupportedPeftType = "unsupported_peft_type"
        case missingWeights = "missing_weights"
        case pickleRefused = "pickle_refused"
        case unexpectedTensor = "unexpected_tensor"
        case unpairedFactor = "unpaired_factor"
        case rankMismatch = "rank_mismatch"
        case shapeMismatch = "shape_mismatch"
        case unsupportedLayer = "unsupported_layer"
        case nonFloatTensor = "non_float_tensor"
        case nonFiniteWeight = "non_finite_weight"
        case magnitudeMismatch = "magnitude_mismatch"
        case untargetedModule = "untargeted_module"
        case moduleNotFound = "module_not_found"
        case writeFailed = "write_failed"
        case linkOutside = "link_outside"
    }

    public let kind: Kind
    /// Where: the adapter directory or file, plus the module or tensor when one is involved.
    public let location: String
    /// The specific problem, with the values that show it.
    public let detail: String

    public init(_ kind: Kind, at location: String, _ detail: String) {
        self.kind = kind
        self.location = location
        self.detail = detail
    }

    public var code: String { "lora.\(kind.rawValue)" }

    public var errorKind: ErrorKind { kind == .writeFailed ? .unavailable : .invalidInput }

    public var reason: String { "\(location): \(detail)" }

    public var hint: String {
        switch kind {
        case .missingConfig, .missingWeights:
            "a PEFT adapter directory holds adapter_config.json and adapter_model.safetensors (save it with `save_pretrained`)"
        case .pickleRefused:
            "adapter_model.bin is a Python pickle, and unpickling can execute arbitrary code, so Quiver never opens it. "
                + "Convert it where you trust the file: `PeftModel.from_pretrained(base, dir).save_pretrained(out, safe_serialization=True)`"
        case .unsupportedPeftType:
            "Quiver handles LoRA adapters only (peft_type \"LORA\")"
        case .malformedConfig, .invalidConfigField:
            "fix adapter_config.json or re-save the adapter with PEFT"
        case .unexpectedTensor, .unpairedFactor, .rankMismatch, .shapeMismatch, .magnitudeMismatch, .untargetedModule:
            "the weights do not match adapter_config.json; re-save the adapter with PEFT"
        case .unsupportedLayer:
            "only Linear, Conv1D (fan_in_fan_out) and Embedding LoRA layers are supported"
        case .nonFloatTensor:
            "LoRA factors must be F64, F32, F16 or BF16"
        case .nonFiniteWeight:
            "the training run diverged or the file is damaged: retrain from a good checkpoint or re-export the adapter; "
                + "Quiver does not register or merge weights holding NaN or Inf"
        case .moduleNotFound:
            "list the adapter's modules with `quiver inspect`"
        case .linkOutside:
            "Quiver reads only files inside the adapter directory; copy the target in (`cp -L`, e.g. from a Hugging Face cache snapshot)"
        case .writeFailed:
            ""
        }
    }

    public static func == (lhs: LoRAError, rhs: LoRAError) -> Bool { lhs.kind == rhs.kind }
}
