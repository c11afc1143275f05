import SafeTensors

/// The kind of layer a LoRA module adapts; it decides the tensor names and how the delta meets the base weight.
public enum LoRAModuleKind: String, Sendable {
    /// `nn.Linear` (or `Conv1D` with `fan_in_fan_out`): keys `lora_A.weight` / `lora_B.weight`.
    case linear
    /// `nn.Embedding`: keys `lora_embedding_A` / `lora_embedding_B`; the base weight is stored
    /// `num_embeddings × embedding_dim`, i.e. transposed relative to the `out × in` delta.
    case embedding
}

/// One adapted module, e.g. path `model.layers.0.self_attn.q_proj`.
public struct LoRAModuleInfo: Sendable, Equatable {
    /// The module path inside the base model (the tensor key without `base_model.model.` and the LoRA suffix).
    public let path: String
    public let kind: LoRAModuleKind
    /// The effective rank (``AdapterConfig/rank(for:)``), equal to the factors' inner dimension.
    public let rank: Int
    /// The effective alpha (``AdapterConfig/alpha(for:)``).
    public let alpha: Double
    /// PEFT's scaling for this module (``AdapterConfig/scaling(for:)``).
    public let scaling: Double
    /// Columns of A: `in_features` for linear, `num_embeddings` for embedding.
    public let inFeatures: Int
    /// Rows of B: `out_features` for linear, `embedding_dim` for embedding.
    public let outFeatures: Int
    /// Full tensor key of A, e.g. `base_model.model.<path>.lora_A.weight`.
    public let keyA: String
    /// Full tensor key of B.
    public let keyB: String
    /// DoRA's `lora_magnitude_vector` key, when the adapter uses DoRA.
    public let magnitudeKey: String?
    /// The factors' stored dtype.
    public let dtype: DType
    /// `lora_B.bias` key when the adapter was trained with `lora_bias`.
    public let biasKey: String?
    /// Whether the base layer stores its weight `in × out` (embedding, or Conv1D with `fan_in_fan_out`), so the
    /// `out × in` delta `scaling · B·A` must be transposed before adding it to that weight.
    public let baseWeightTransposed: Bool

    public init(
        path: String, kind: LoRAModuleKind, rank: Int, alpha: Double, scaling: Double, inFeatures: Int, outFeatures: Int,
        keyA: String, keyB: String, magnitudeKey: String?, dtype: DType, biasKey: String? = nil, baseWeightTransposed: Bool = false
    ) {
        self.path = path
        self.kind = kind
        self.rank = rank
        self.alpha = alpha
        self.scaling = scaling
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.keyA = keyA
        self.keyB = keyB
        self.magnitudeKey = magnitudeKey
        self.dtype = dtype
        self.biasKey = biasKey
        self.baseWeightTransposed = baseWeightTransposed
    }

    /// Trainable parameters in the factors (and magnitude / bias when present).
    public var parameterCount: Int {
        rank * (inFeatures + outFeatures) + (magnitudeKey == nil ? 0 : outFeatures) + (biasKey == nil ? 0 : outFeatures)
    }
}

/// The tensor keys PEFT saves for a linear module's factors: `base_model.model.<path>.lora_A.weight` and
/// `….lora_B.weight`.
public func loraTensorKeys(modulePath: String) -> (a: String, b: String) {
    ("base_model.model.\(modulePath).lora_A.weight", "base_model.model.\(modulePath).lora_B.weight")
}

/// The key PEFT saves a DoRA magnitude vector under.
public func loraMagnitudeKey(modulePath: String) -> String {
    "base_model.model.\(modulePath).lora_magnitude_vector"
}
