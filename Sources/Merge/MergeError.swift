import QuiverCore

/// Why a merge was refused or failed: what is wrong, where, and what to do.
public struct MergeError: NamedError, Equatable {
    /// The kinds of refusal; `code` is `merge.<kind>`.
    public enum Kind: String, Sendable, Equatable {
        case noInputs = "no_inputs"
        case weightCount = "weight_count"
        case baseModelMismatch = "base_model_mismatch"
        case shapeMismatch = "shape_mismatch"
        case rankMismatch = "rank_mismatch"
        case scalingMismatch = "scaling_mismatch"
        case dora = "dora_input"
        case modulesToSaveOverlap = "modules_to_save_overlap"
        case nonFinite = "non_finite_factor"
        case nonFiniteOutput = "non_finite_output"
        case badParameter = "bad_parameter"
        case missingParameter = "missing_parameter"
        case slerpInputs = "slerp_inputs"
        case moduleSetMismatch = "module_set_mismatch"
        case noModules = "no_modules"
        case linearAlgebra = "linear_algebra"
        case input = "input"
    }

    public let kind: Kind
    public let reason: String
    public let hint: String

    public var code: String { "merge.\(kind.rawValue)" }

    public var errorKind: ErrorKind {
        switch kind {
        case .noInputs, .weightCount, .badParameter, .missingParameter, .input, .nonFiniteOutput: .invalidInput
        case .linearAlgebra: .internal
        case .baseModelMismatch, .shapeMismatch, .rankMismatch, .scalingMismatch, .dora, .modulesToSaveOverlap, .nonFinite,
             .slerpInputs, .moduleSetMismatch, .noModules: .refusal
        }
    }

    public init(_ kind: Kind, _ reason: String, hint: String = "") {
        self.kind = kind
        self.reason = reason
        self.hint = hint
    }
}
