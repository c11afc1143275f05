/// How much a set of adapters would interfere if merged: sign conflicts, cosine similarity of their updates
/// and overlap of their column subspaces, per module and overall, with a plain verdict.
public struct InterferenceReport: Codable, Sendable {
    /// The fraction of each dense delta kept before counting sign conflicts (TIES' trim).
    public let trimDensity: Double
    public let inputs: [String]
    public let modules: [ModuleInterference]
    /// Over all modules: conflicting entries / entries with two or more kept contributions.
    public let signConflictRate: Double?
    /// One entry per pair of inputs, over the modules both adapt.
    public let pairs: [PairInterference]
    /// Over the modules where all inputs share a rank: the share of the exact sum Σ c_i Δ_i that a PEFT-style
    /// factor merge (linear, ties, dare, magnitude_prune merge the A's and B's separately) keeps, ⟨X, Y⟩ / ‖Y‖².
    /// About 1 for unrelated adapters; near 0 when opposed factors cancel. nil when no module qualifies.
    public let factorMergeRetention: Double?
    /// ‖X − Y‖ / ‖Y‖ over the same modules: cancellation plus the cross-term noise B_i A_j of factor merges.
    public let factorMergeRelativeError: Double?
    /// Fraction of factor entries (A and B) whose signs disagree between inputs, over the same modules.
    public let factorSignConflictRate: Double?
    public let risk: Risk
    public let verdict: String

    public enum Risk: String, Codable, Sendable { case low, moderate, high }
}

/// Interference within one module.
public struct ModuleInterference: Codable, Sendable {
    public let path: String
    /// Indices of the inputs that adapt this module.
    public let inputs: [Int]
    public let signConflictRate: Double?
    /// Entries where two or more inputs keep a non-zero value after trimming.
    public let comparedEntries: Int
    public let conflictingEntries: Int
    public let pairs: [PairInterference]
    /// See `InterferenceReport.factorMergeRetention`; nil when ranks differ or there is one input.
    public let factorMergeRetention: Double?
    public let factorMergeRelativeError: Double?
    public let factorSignConflictRate: Double?
    /// ‖Σ c_i Δ_i‖² with equal weights (0 where not measured), to aggregate the relative error over modules.
    let exactNormSquared: Double
}

/// Two inputs compared: cos(Δ_i, Δ_j) and the overlap of col(B_i) and col(B_j).
public struct PairInterference: Codable, Sendable {
    public let first: Int
    public let second: Int
    /// <Δ_i, Δ_j>_F / (|Δ_i|_F |Δ_j|_F).
    public let cosine: Double
    /// Mean squared cosine of the principal angles between the column spaces of B_i and B_j, in [0, 1].
    public let subspaceOverlap: Double
    /// Largest cosine of a principal angle (1 = the subspaces share a direction).
    public let maxPrincipalCosine: Double
    /// Internal sums used to aggregate pairs over modules.
    let dot: Double
    let normSquaredFirst: Double
    let normSquaredSecond: Double

    enum CodingKeys: String, CodingKey {
        case first, second, cosine
        case subspaceOverlap = "subspace_overlap"
        case maxPrincipalCosine = "max_principal_cosine"
        case dot
        case normSquaredFirst = "norm_squared_first"
        case normSquaredSecond = "norm_squared_second"
    }
}
