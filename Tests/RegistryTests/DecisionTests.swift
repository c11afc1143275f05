import Merge
import QuiverCore
import Testing
@testable import Registry

/// The registry's decisions that need no I/O, tested without PostgreSQL or S3.
@Suite("Registry decisions (no services)")
struct DecisionTests {
    // MARK: promotion rule

    static let tone = [Evaluation(suite: "tone", metric: "acc", value: 0.8, higherIsBetter: true)]
    static let json = [Evaluation(suite: "json", metric: "valid", value: 0.9, higherIsBetter: true)]

    @Test func unprotectedAliasOrTrainedVersionIsNeverGuarded() {
        #expect(PromotionRule.refusals(candidate: "m@1", kind: .merged, aliasIsProtected: false, evaluations: [],
                                       parents: [("tone@1", Self.tone)]).isEmpty)
        #expect(PromotionRule.refusals(candidate: "t@1", kind: .trained, aliasIsProtected: true, evaluations: [],
                                       parents: []).isEmpty)
    }

    @Test func mergeWithoutEvaluationsIsRefusedOnce() {
        let reasons = PromotionRule.refusals(candidate: "m@1", kind: .merged, aliasIsProtected: true, evaluations: [],
                                             parents: [("tone@1", Self.tone), ("json@1", Self.json)])
        #expect(reasons == ["m@1 has no recorded evaluations"])
    }

    @Test func mergeMustMatchEveryParentOnTheParentsSuites() {
        let own = [Evaluation(suite: "tone", metric: "acc", value: 0.85, higherIsBetter: true)]
        let reasons = PromotionRule.refusals(candidate: "m@1", kind: .merged, aliasIsProtected: true, evaluations: own,
                                             parents: [("tone@1", Self.tone), ("json@1", Self.json)])
        #expect(reasons == ["no evaluation of json/valid, which json@1 scored 0.9"])
        let worse = [Evaluation(suite: "tone", metric: "acc", value: 0.79, higherIsBetter: true),
                     Evaluation(suite: "json", metric: "valid", value: 0.95, higherIsBetter: true)]
        #expect(PromotionRule.refusals(candidate: "m@1", kind: .merged, aliasIsProtected: true, evaluations: worse,
                                       parents: [("tone@1", Self.tone), ("json@1", Self.json)])
            == ["tone/acc is 0.79, worse than tone@1's 0.8"])
    }

    @Test func theLatestEvaluationCountsAndLowerCanBeBetter() {
        let parent = [Evaluation(suite: "lm", metric: "loss", value: 1.5, higherIsBetter: false)]
        let improved = [Evaluation(suite: "lm", metric: "loss", value: 1.7, higherIsBetter: false),
                        Evaluation(suite: "lm", metric: "loss", value: 1.4, higherIsBetter: false)]
        #expect(PromotionRule.refusals(candidate: "m@2", kind: .merged, aliasIsProtected: true, evaluations: improved,
                                       parents: [("base@1", parent)]).isEmpty)
        let regressed = Array(improved.reversed())
        #expect(PromotionRule.refusals(candidate: "m@2", kind: .merged, aliasIsProtected: true, evaluations: regressed,
                                       parents: [("base@1", parent)]) == ["lm/loss is 1.7, worse than base@1's 1.5"])
    }

    // MARK: policy check

    @Test func policyRefusesMethodsItDoesNotAllow() throws {
        var policy = RegistryPolicy()
        try policy.apply(key: "allowed_methods", json: Data(#"["ties","linear"]"#.utf8))
        #expect(throws: Never.self) { try policy.check(MergeRequest(method: .ties)) }
        let error = #expect(throws: RegistryError.self) { try policy.check(MergeRequest(method: .svd)) }
        #expect(error?.code == "registry.policy.method_not_allowed" && error?.errorKind == .refusal)
    }

    @Test func policyRefusesScalingFoldUnlessAllowed() throws {
        var policy = RegistryPolicy()
        let fold = MergeRequest(method: .linear, allowScalingMismatch: true)
        let error = #expect(throws: RegistryError.self) { try policy.check(fold) }
        #expect(error?.code == "registry.policy.scaling_fold_forbidden")
        try policy.apply(key: "allow_scaling_fold", json: Data("true".utf8))
        #expect(throws: Never.self) { try policy.check(fold) }
    }

    @Test func policyRefusesAPlanWiderThanMaxMergedRank() throws {
        func input(_ name: String) -> MergeInputDescriptor {
            MergeInputDescriptor(name: name, baseModel: "base", modules: [
                ModuleDescriptor(path: "layers.0.q_proj", rank: 8, scaling: 2, inFeatures: 64, outFeatures: 64),
            ])
        }
        let request = MergeRequest(method: .cat).resolved(inputCount: 2)
        let plan = try MergeCompatibility.plan(inputs: [input("a"), input("b")], request: request)
        var policy = RegistryPolicy()
        try policy.apply(key: "max_merged_rank", json: Data("16".utf8))
        #expect(throws: Never.self) { try policy.check(request, plan: plan) }
        try policy.apply(key: "max_merged_rank", json: Data("12".utf8))
        let error = #expect(throws: RegistryError.self) { try policy.check(request, plan: plan) }
        #expect(error?.code == "registry.policy.rank_too_large")
        #expect(error?.reason.contains("layers.0.q_proj would have rank 16") == true)
    }

    @Test func policyValuesAreTypeChecked() {
        var policy = RegistryPolicy()
        #expect(throws: RegistryError.self) { try policy.apply(key: "max_merged_rank", json: Data("0".utf8)) }
        #expect(throws: RegistryError.self) { try policy.apply(key: "allowed_methods", json: Data(#"["nope"]"#.utf8)) }
        let unknown = #expect(throws: RegistryError.self) { try policy.apply(key: "colour", json: Data("1".utf8)) }
        #expect(unknown?.code == "registry.unknown_policy" && unknown?.errorKind == .invalidInput)
    }

    // MARK: job lifecycle

    @Test func claimableJobs() {
        #expect(JobLifecycle.isClaimable(status: .queued, attempts: 0, maxAttempts: 3, leaseExpired: false))
        #expect(!JobLifecycle.isClaimable(status: .queued, attempts: 3, maxAttempts: 3, leaseExpired: false))
        #expect(!JobLifecycle.isClaimable(status: .running, attempts: 1, maxAttempts: 3, leaseExpired: false))
        #expect(JobLifecycle.isClaimable(status: .running, attempts: 1, maxAttempts: 3, leaseExpired: true))
        #expect(!JobLifecycle.isClaimable(status: .running, attempts: 3, maxAttempts: 3, leaseExpired: true))
        for status in [JobStatus.succeeded, .failed] {
            #expect(!JobLifecycle.isClaimable(status: status, attempts: 1, maxAttempts: 3, leaseExpired: true))
        }
    }

    @Test func failedAttemptsRequeueUntilTheLastOneUnlessRefused() {
        let transient = RegistryError(.unavailable, code: "objectstore.unreachable", reason: "the S3 endpoint did not answer")
        #expect(JobLifecycle.afterFailure(of: transient, attempts: 1, maxAttempts: 3) == .queued)
        #expect(JobLifecycle.afterFailure(of: transient, attempts: 3, maxAttempts: 3) == .failed)
        let missing = RegistryError.notFound("no adapter version matches missing")
        #expect(JobLifecycle.afterFailure(of: missing, attempts: 1, maxAttempts: 3) == .failed)
        let refusal = MergeError(.rankMismatch, "ranks differ")
        #expect(JobLifecycle.afterFailure(of: refusal, attempts: 1, maxAttempts: 3) == .failed)
        struct Unnamed: Error {}
        #expect(JobLifecycle.afterFailure(of: Unnamed(), attempts: 1, maxAttempts: 3) == .queued)
        #expect(JobLifecycle.afterLeaseExpiry(attempts: 1, maxAttempts: 3) == nil)
        #expect(JobLifecycle.afterLeaseExpiry(attempts: 3, maxAttempts: 3) == .failed)
    }

    // MARK: authorization

    static func token(_ scope: TokenScope, names: String? = nil, expires: Date? = nil, revoked: Date? = nil) -> TokenRecord {
        TokenRecord(id: 1, name: "ci", scope: scope, namePattern: names, createdBy: "admin", createdAt: Date(timeIntervalSince1970: 0),
                    expiresAt: expires, revokedAt: revoked, lastUsedAt: nil)
    }

    @Test func scopesIncludeTheOnesBelow() throws {
        let actions: [RegistryAction] = [.read(name: "a"), .write(name: "a"), .uploadBlob, .moveProtectedAlias(name: "a"), .administer]
        let allowed: [TokenScope: Int] = [.read: 1, .write: 3, .admin: 5]
        for (scope, count) in allowed {
            let passing = actions.filter { action in (try? Authorization.check(Self.token(scope), may: action)) != nil }
            #expect(passing.count == count, "\(scope)")
        }
        let error = #expect(throws: RegistryError.self) { try Authorization.check(Self.token(.write), may: .administer) }
        #expect(error?.errorKind == .forbidden && error?.code == "auth.scope")
    }

    @Test func namePatternsLimitWhatATokenTouches() throws {
        let team = Self.token(.admin, names: "team-*")
        #expect(throws: Never.self) { try Authorization.check(team, may: .write(name: "team-tone")) }
        #expect(throws: Never.self) { try Authorization.check(team, may: .read(name: nil)) }
        let error = #expect(throws: RegistryError.self) { try Authorization.check(team, may: .write(name: "other")) }
        #expect(error?.code == "auth.name_pattern")
        #expect(Authorization.matches("*", "") && Authorization.matches("a*b*c", "aXXbYc") && !Authorization.matches("a*b", "ab-c"))
        #expect(!Authorization.matches(String(repeating: "*a", count: 60) + "b", String(repeating: "a", count: 4000)))
    }

    @Test func expiredOrRevokedTokensAreInvalid() {
        let now = Date(timeIntervalSince1970: 1_000)
        #expect(Authorization.invalidity(of: Self.token(.read, expires: now.addingTimeInterval(1)), now: now) == nil)
        #expect(Authorization.invalidity(of: Self.token(.read, expires: now), now: now) == "token ci expired")
        #expect(Authorization.invalidity(of: Self.token(.read, revoked: now.addingTimeInterval(-1)), now: now) == "token ci was revoked")
    }

    // MARK: tags

    @Test func tagsAreBoundedPrintableKeyValuePairs() {
        #expect(throws: Never.self) { try TagRules.validate(["team": "nlp", "skill": "tone ünïcode"]) }
        for bad: [String: String] in [
            ["team": "\u{1B}[2Jhidden"], ["\u{7}bell": "x"], ["": "x"], ["a=b": "c"],
            ["k": String(repeating: "v", count: 1025)], ["k": String(repeating: "v", count: 257)],
            [String(repeating: "k", count: 129): "v"],
            Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") }),
        ] {
            let error = #expect(throws: RegistryError.self) { try TagRules.validate(bad) }
            #expect(error?.code == "registry.invalid_tag" && error?.errorKind == .invalidInput)
            #expect(error.map { !TerminalText.hasControlCharacters($0.reason) } ?? false, "the refusal itself is printable")
        }
    }

    // MARK: merge identity

    static let a = SHA256Digest.of(Array("a".utf8))
    static let b = SHA256Digest.of(Array("b".utf8))

    @Test func sameMergeSameKeyWhateverTheDefaultsSpelling() throws {
        let implicit = MergeRequest(method: .ties, density: 0.5).resolved(inputCount: 2)
        let explicit = MergeRequest(method: .ties, weights: [0.5, 0.5], density: 0.5).resolved(inputCount: 2)
        #expect(try MergeIdentity.key(implicit, inputDigests: [Self.a, Self.b]) == MergeIdentity.key(explicit, inputDigests: [Self.a, Self.b]))
    }

    @Test func anyDifferenceInInputsOrParametersChangesTheKey() throws {
        let request = MergeRequest(method: .dareTies, density: 0.5, seed: 7).resolved(inputCount: 2)
        let key = try MergeIdentity.key(request, inputDigests: [Self.a, Self.b])
        #expect(try MergeIdentity.key(request, inputDigests: [Self.b, Self.a]) != key)
        #expect(try MergeIdentity.key(request, inputDigests: [Self.a, Self.a]) != key)
        var reseeded = request
        reseeded.seed = 8
        #expect(try MergeIdentity.key(reseeded, inputDigests: [Self.a, Self.b]) != key)
        var denser = request
        denser.density = 0.6
        #expect(try MergeIdentity.key(denser, inputDigests: [Self.a, Self.b]) != key)
    }
}

import Foundation
