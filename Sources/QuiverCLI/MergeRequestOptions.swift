import ArgumentParser
import Merge

extension MergeMethod: ExpressibleByArgument {}
extension MajoritySignMethod: ExpressibleByArgument {}

/// The merge engine's parameters as command-line options: one set of flags and help texts for `merge` (registry)
/// and `merge-files` (directories).
public struct MergeRequestOptions: ParsableArguments {
    @Option(help: "Merge method.")
    var method: MergeMethod

    @Option(help: "Comma-separated weights, one per input (negative subtracts). Default: 1/n each.")
    var weights: String?

    @Option(help: "Fraction of entries kept by ties, dare_* and magnitude_prune (and *_svd), in [0, 1].")
    var density: Double?

    @Option(name: .customLong("majority-sign"), help: "Sign election for ties/dare_ties: total or frequency.")
    var majoritySign: MajoritySignMethod = .total

    @Option(name: .customLong("svd-rank"), help: "Rank of the result for svd and *_svd (default: largest input rank); a cap for cat.")
    var svdRank: Int?

    @Option(help: "Interpolation parameter of slerp, in [0, 1].")
    var t: Double?

    @Option(help: "Seed of the DARE masks (the output is the same for the same seed on any machine).")
    var seed: UInt64 = 0

    @Flag(
        name: .customLong("allow-scaling-mismatch"),
        help: "Fold different LoRA scalings into the weights in factor-space methods, as PEFT does (in the registry, its policy must allow it).")
    var allowScalingMismatch = false

    public init() {}

    /// The weights' syntax; ranges that need the input count are checked by ``request(inputCount:)``.
    public func validate() throws {
        if let weights { _ = try OptionParsing.weights(weights) }
    }

    /// The request for `inputCount` inputs, checked by the engine's own parameter rules (weight count, density,
    /// t, svd rank, slerp's two inputs) so that the command's `validate()` refuses what the engine would, before
    /// any input is read or the database is opened.
    func request(inputCount: Int) throws -> MergeRequest {
        let request = MergeRequest(
            method: method, weights: try weights.map(OptionParsing.weights), density: density, majoritySign: majoritySign,
            svdRank: svdRank, t: t, seed: seed, allowScalingMismatch: allowScalingMismatch)
        try MergeCompatibility.checkParameters(request, inputCount: inputCount)
        return request
    }
}
