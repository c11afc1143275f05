import SafeTensors

/// A PEFT `adapter_config.json` for a LoRA adapter.
///
/// The fields Quiver reasons about are typed; every other field PEFT 0.21 writes (`task_type`, `lora_dropout`,
/// `init_lora_weights`, `loftq_config`, `megatron_config`, `eva_config`, …) and any field unknown to Quiver is
/// kept in ``otherFields`` and written back unchanged. Typed fields that were not changed are also written back
/// with their original JSON text, so parse-then-write is byte-identical for PEFT-written files.
public struct AdapterConfig: Sendable, Equatable {
    public var peftType: String
    public var baseModelNameOrPath: String?
    public var revision: String?
    public var taskType: String?
    public var r: Int
    public var loraAlpha: Double
    public var loraDropout: Double
    public var useRslora: Bool
    public var useDora: Bool
    public var targetModules: TargetModules
    public var excludeModules: TargetModules?
    /// Per-module rank overrides, keys matched by PEFT's `get_pattern_key` rule (see ``rank(for:)``).
    public var rankPattern: [String: Int]
    /// Per-module alpha overrides, same matching rule.
    public var alphaPattern: [String: Double]
    public var fanInFanOut: Bool
    /// `bias`: "none", "all" or "lora_only".
    public var bias: String
    /// `lora_bias`: whether `lora_B` has a bias (saved as `….lora_B.bias`).
    public var loraBias: Bool
    public var modulesToSave: [String]?
    public var layersToTransform: [Int]?
    public var layersPattern: [String]?
    public var inferenceMode: Bool
    public var peftVersion: String?
    /// Every field not typed above, by key, written back unchanged.
    public var otherFields: [String: JSONValue]

    /// Original JSON of typed fields, reused on write while the typed value is unchanged (keeps `16` vs `16.0`).
    var sourceValues: [String: JSONValue] = [:]
    /// Pattern keys in file order: PEFT tries them in dict (insertion) order and the first match wins.
    var rankPatternOrder: [String] = []
    var alphaPatternOrder: [String] = []

    /// A LoRA config with PEFT 0.21's defaults for everything not given.
    public init(
        baseModelNameOrPath: String?,
        r: Int,
        loraAlpha: Double,
        targetModules: TargetModules,
        useRslora: Bool = false,
        useDora: Bool = false
    ) {
        self.peftType = "LORA"
        self.baseModelNameOrPath = baseModelNameOrPath
        self.revision = nil
        self.taskType = nil
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = 0
        self.useRslora = useRslora
        self.useDora = useDora
        self.targetModules = targetModules
        self.excludeModules = nil
        self.rankPattern = [:]
        self.alphaPattern = [:]
        self.fanInFanOut = false
        self.bias = "none"
        self.loraBias = false
        self.modulesToSave = nil
        self.layersToTransform = nil
        self.layersPattern = nil
        self.inferenceMode = true
        self.peftVersion = nil
        self.otherFields = [:]
    }

    /// Semantic equality: the original JSON spelling of typed numbers and the key order of objects do not matter.
    public static func == (lhs: AdapterConfig, rhs: AdapterConfig) -> Bool {
        lhs.peftType == rhs.peftType && lhs.baseModelNameOrPath == rhs.baseModelNameOrPath && lhs.revision == rhs.revision
            && lhs.taskType == rhs.taskType && lhs.r == rhs.r && lhs.loraAlpha == rhs.loraAlpha && lhs.loraDropout == rhs.loraDropout
            && lhs.useRslora == rhs.useRslora && lhs.useDora == rhs.useDora && lhs.targetModules == rhs.targetModules
            && lhs.excludeModules == rhs.excludeModules && lhs.rankPattern == rhs.rankPattern && lhs.alphaPattern == rhs.alphaPattern
            && lhs.fanInFanOut == rhs.fanInFanOut && lhs.bias == rhs.bias && lhs.loraBias == rhs.loraBias
            && lhs.modulesToSave == rhs.modulesToSave && lhs.layersToTransform == rhs.layersToTransform
            && lhs.layersPattern == rhs.layersPattern && lhs.inferenceMode == rhs.inferenceMode && lhs.peftVersion == rhs.peftVersion
            && lhs.otherFields.count == rhs.otherFields.count
            && lhs.otherFields.allSatisfy { key, value in rhs.otherFields[key].map(value.equalsIgnoringKeyOrder) ?? false }
    }
}
