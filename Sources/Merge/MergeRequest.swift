import Foundation

/// Everything that determines a merge's output: stored in the catalog as the merge's parameters and in the
/// merged file's metadata, so that the merge can be re-run and its bytes compared.
public struct MergeRequest: Codable, Sendable, Equatable {
    public var method: MergeMethod
    /// One weight per input, negative to subtract; `nil` means 1/n each.
    public var weights: [Double]?
    /// Fraction of entries kept by ties, dare_* and magnitude_prune (and their _svd forms), in [0, 1].
    public var density: Double?
    public var majoritySign: MajoritySignMethod
    /// Rank of the result for svd, *_svd (default: the largest input rank) and cat (a cap; default none).
    public var svdRank: Int?
    /// Interpolation parameter of slerp, in [0, 1].
    public var t: Double?
    /// Seed of the DARE masks (counter-based, so the output does not depend on threads or module order).
    public var seed: UInt64
    /// Factor-space methods refuse inputs with different scaling unless this is set (PEFT folds silently).
    public var allowScalingMismatch: Bool

    public init(
        method: MergeMethod, weights: [Double]? = nil, density: Double? = nil,
        majoritySign: MajoritySignMethod = .total, svdRank: Int? = nil, t: Double? = nil,
        seed: UInt64 = 0, allowScalingMismatch: Bool = false
    ) {
        self.method = method
        self.weights = weights
        self.density = density
        self.majoritySign = majoritySign
        self.svdRank = svdRank
        self.t = t
        self.seed = seed
        self.allowScalingMismatch = allowScalingMismatch
    }

    enum CodingKeys: String, CodingKey {
        case method, weights, density, seed, t
        case majoritySign = "majority_sign"
        case svdRank = "svd_rank"
        case allowScalingMismatch = "allow_scaling_mismatch"
    }

    /// The weights to use for `count` inputs (1/n each when none were given).
    public func resolvedWeights(count: Int) -> [Double] {
        weights ?? Array(repeating: 1.0 / Double(max(count, 1)), count: count)
    }

    /// The request with defaults filled in for `count` inputs, as recorded in lineage.
    public func resolved(inputCount count: Int) -> MergeRequest {
        var copy = self
        copy.weights = resolvedWeights(count: count)
        return copy
    }

    /// Canonical JSON: sorted keys, no whitespace, nulls omitted; equal requests give equal bytes.
    public func canonicalJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
