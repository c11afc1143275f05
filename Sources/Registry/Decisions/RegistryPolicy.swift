import Foundation
import Merge

/// The registry's merge and promotion policy, stored as rows of `registry_policy` (key → JSON value).
public struct RegistryPolicy: Sendable, Codable, Equatable {
    /// Whether merges may fold different LoRA scalings into the factors (`--allow-scaling-mismatch`).
    public var allowScalingFold: Bool = false
    /// The largest rank a merged module may have.
    public var maxMergedRank: Int = 256
    /// Merge methods the registry runs.
    public var allowedMethods: [String] = MergeMethod.allCases.map(\.rawValue)
    /// Aliases that only evaluated merges (or a forced, audited move) may point to.
    public var protectedAliases: [String] = ["production"]

    public init() {}

    /// The keys `quiver policy set` accepts.
    public static let keys = ["allow_scaling_fold", "max_merged_rank", "allowed_methods", "protected_aliases"]

    /// Applies one stored value, checking its JSON type; unknown keys are refused.
    public mutating func apply(key: String, json: Data) throws {
        let decoder = JSONDecoder()
        func bad(_ expected: String) -> RegistryError {
            RegistryError(.invalidInput, code: "registry.invalid_policy", reason: "policy \(key) must be \(expected)",
                          hint: "e.g. quiver policy set \(key) \(Self.example(key))")
        }
        switch key {
        case "allow_scaling_fold":
            guard let value = try? decoder.decode(Bool.self, from: json) else { throw bad("true or false") }
            allowScalingFold = value
        case "max_merged_rank":
            guard let value = try? decoder.decode(Int.self, from: json), value >= 1 else { throw bad("a positive integer") }
            maxMergedRank = value
        case "allowed_methods":
            guard let value = try? decoder.decode([String].self, from: json) else { throw bad("a JSON array of method names") }
            if let unknown = value.first(where: { MergeMethod(rawValue: $0) == nil }) {
                throw RegistryError(.invalidInput, code: "registry.invalid_policy", reason: "allowed_methods names an unknown method '\(unknown)'",
                                    hint: "methods: \(MergeMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            allowedMethods = value
        case "protected_aliases":
            guard let value = try? decoder.decode([String].self, from: json) else { throw bad("a JSON array of alias names") }
            protectedAliases = value
        default:
            throw RegistryError(.invalidInput, code: "registry.unknown_policy", reason: "there is no policy key '\(key)'",
                                hint: "keys: \(Self.keys.joined(separator: ", "))")
        }
    }

    /// Refuses a merge request the policy does not allow, before any blob is read: a method outside
    /// `allowed_methods`, folding scalings while `allow_scaling_fold` is off, or a merged module wider than
    /// `max_merged_rank` in the engine's plan (nil before the plan is known).
    public func check(_ request: MergeRequest, plan: MergePlan? = nil) throws(RegistryError) {
        if !allowedMethods.contains(request.method.rawValue) {
            throw RegistryError(
                .refusal, code: "registry.policy.method_not_allowed",
                reason: "the registry policy does not allow \(request.method.rawValue) merges (allowed: \(allowedMethods.joined(separator: ", ")))",
                hint: "choose an allowed method, or change the policy with 'quiver policy set allowed_methods'")
        }
        if request.allowScalingMismatch && !allowScalingFold {
            throw RegistryError(
                .refusal, code: "registry.policy.scaling_fold_forbidden",
                reason: "the registry policy forbids folding different LoRA scalings into the factors (allow_scaling_fold = false)",
                hint: "merge inputs with equal scaling, or set the policy with 'quiver policy set allow_scaling_fold true'")
        }
        if let plan, let widest = plan.modules.max(by: { $0.outputRank < $1.outputRank }), widest.outputRank > maxMergedRank {
            throw RegistryError(
                .refusal, code: "registry.policy.rank_too_large",
                reason: "the merged module \(widest.path) would have rank \(widest.outputRank), above the policy's max_merged_rank \(maxMergedRank)",
                hint: "pass --svd-rank \(maxMergedRank) or lower, or raise max_merged_rank")
        }
    }

    static func example(_ key: String) -> String {
        switch key {
        case "allow_scaling_fold": "true"
        case "max_merged_rank": "64"
        case "allowed_methods": "'[\"ties\",\"linear\"]'"
        default: "'[\"production\"]'"
        }
    }
}
