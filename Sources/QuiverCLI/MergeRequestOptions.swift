import ArgumentParser
import Merge

/// The merge engine's parameters as command-line options (the same flags as `merge-files`).
public struct MergeRequestOptions: ParsableArguments {
    @Option(help: "Merge method.") var method: MergeMethod
    @Option(help: "Comma-separated weights, one per input (negative subtracts). Default: 1/n each.") var weights: String?
    @Option(help: "Fraction of entries kept by ties, dare_* and magnitude_prune (and *_svd), in [0, 1].") var density: Double?
    @Option(name: .customLong("majority-sign"), help: "Sign election for ties/dare_ties: total or frequency.") var majoritySign: MajoritySignMethod = .total
    @Option(name: .customLong("svd-rank"), help: "Rank of the result for svd and *_svd; a cap for cat.") var svdRank: Int?
    @Option(help: "Interpolation parameter of slerp, in [0, 1].") var t: Double?
    @Option(help: "Seed of the DARE masks.") var seed: UInt64 = 0
    @Flag(name: .customLong("allow-scaling-mismatch"), help: "Fold different LoRA scalings into the weights (the registry policy must allow it).")
    var allowScalingMismatch = false

    public init() {}

    func request() throws -> MergeRequest {
        let parsed = try weights.map { text in
            try text.split(separator: ",").map { item in
                guard let value = Double(item.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("weight '\(item)' is not a number; use e.g. --weights 0.7,0.3")
                }
                return value
            }
        }
        return MergeRequest(
            method: method, weights: parsed, density: density, majoritySign: majoritySign, svdRank: svdRank, t: t,
            seed: seed, allowScalingMismatch: allowScalingMismatch)
    }
}
