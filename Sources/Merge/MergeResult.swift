import LoRA
import SafeTensors

/// A finished merge: a PEFT adapter ready to write (config, tensors, safetensors metadata) and its report.
public struct MergeResult: Sendable {
    public let config: AdapterConfig
    /// lora_A / lora_B per module, Float32, in path order.
    public let tensors: [TensorToWrite]
    /// The safetensors `__metadata__`: method, canonical request, seed, input digests, Quiver's version.
    public let metadata: [String: String]
    public let report: MergeReport
}

/// What a merge did, per module: the rank written and, for truncating methods, the error left.
public struct MergeReport: Codable, Sendable {
    public let method: MergeMethod
    /// The request with defaults resolved.
    public let request: MergeRequest
    public let modules: [ModuleReport]
    /// The largest ||D − D_k||_F / ||D||_F over modules (truncating methods only).
    public let maxRelativeTruncationError: Double?
}

/// One merged module in the report.
public struct ModuleReport: Codable, Sendable {
    public let path: String
    public let rank: Int
    /// Inputs that took part (indices in request order).
    public let inputs: [Int]
    /// ||D − D_k||_F, for truncating methods.
    public let truncationError: Double?
    /// ||D||_F, for truncating methods.
    public let deltaNorm: Double?
}
