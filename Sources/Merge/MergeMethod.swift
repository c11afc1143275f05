/// A merge method, named as in PEFT's `add_weighted_adapter` `combination_type` (plus `slerp`).
public enum MergeMethod: String, Codable, Sendable, CaseIterable {
    case linear, cat, svd, ties
    case tiesSVD = "ties_svd"
    case dareLinear = "dare_linear"
    case dareTies = "dare_ties"
    case dareLinearSVD = "dare_linear_svd"
    case dareTiesSVD = "dare_ties_svd"
    case magnitudePrune = "magnitude_prune"
    case magnitudePruneSVD = "magnitude_prune_svd"
    case slerp

    /// The method is applied to the A tensors and, separately, to the B tensors (all inputs share a rank).
    public var isFactorSpace: Bool {
        switch self {
        case .linear, .ties, .dareLinear, .dareTies, .magnitudePrune, .slerp: true
        default: false
        }
    }

    /// The elementwise rule behind this method (for `*_svd`, the rule applied to the dense deltas).
    var elementwise: ElementwiseRule? {
        switch self {
        case .linear: .linear
        case .ties, .tiesSVD: .ties
        case .dareLinear, .dareLinearSVD: .dareLinear
        case .dareTies, .dareTiesSVD: .dareTies
        case .magnitudePrune, .magnitudePruneSVD: .magnitudePrune
        case .cat, .svd, .slerp: nil
        }
    }

    /// Methods that build a dense delta per module and truncate it to rank k.
    public var isDenseSVD: Bool {
        switch self {
        case .tiesSVD, .dareLinearSVD, .dareTiesSVD, .magnitudePruneSVD: true
        default: false
        }
    }

    /// Methods that need `density`.
    public var usesDensity: Bool { elementwise.map { $0 != .linear } ?? false }

    /// Methods that read the majority sign method.
    public var usesMajoritySign: Bool { elementwise == .ties || elementwise == .dareTies }

    /// Methods whose result depends on the seed (DARE masks).
    public var usesSeed: Bool { elementwise == .dareLinear || elementwise == .dareTies }

    /// Methods that return a rank-k truncation (`svd_rank`).
    public var usesSVDRank: Bool { self == .svd || self == .cat || isDenseSVD }
}

/// How TIES elects the sign of each entry.
public enum MajoritySignMethod: String, Codable, Sendable, CaseIterable {
    /// Sign of the sum of the trimmed, unweighted values.
    case total
    /// Sign of the sum of the signs (a vote).
    case frequency
}

/// The elementwise combination of same-shape tensors (MERGE-SEMANTICS.md, "The elementwise methods").
enum ElementwiseRule: Sendable, Equatable {
    case linear, magnitudePrune, ties, dareLinear, dareTies

    var prunesByMagnitude: Bool { self == .magnitudePrune || self == .ties }
    var usesDARE: Bool { self == .dareLinear || self == .dareTies }
    var electsSign: Bool { self == .ties || self == .dareTies }
}
