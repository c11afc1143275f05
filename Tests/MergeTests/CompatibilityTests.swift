import Foundation
import Testing
@testable import Merge

@Suite("Compatibility rules")
struct CompatibilityTests {
    let a = SyntheticAdapter.make(name: "a", seed: 1).descriptor
    let b = SyntheticAdapter.make(name: "b", seed: 2).descriptor

    func refusal(_ inputs: [MergeInputDescriptor], _ request: MergeRequest) -> MergeError? {
        do {
            _ = try MergeCompatibility.plan(inputs: inputs, request: request)
            return nil
        } catch {
            return error as? MergeError
        }
    }

    @Test func compatibleInputsArePlanned() throws {
        let plan = try MergeCompatibility.plan(inputs: [a, b], request: MergeRequest(method: .linear))
        #expect(plan.modules.map(\.path) == ["m.q", "m.v"])
        #expect(plan.modules.allSatisfy { $0.inputs == [0, 1] && $0.outputRank == 4 })
        #expect(plan.request.weights == [0.5, 0.5])
    }

    @Test func factorSpaceRefusesRankMismatchAndNamesTheModule() throws {
        let c = SyntheticAdapter.make(name: "c", seed: 3, rank: 8).descriptor
        let error = try #require(refusal([a, c], MergeRequest(method: .ties, density: 0.5)))
        #expect(error.kind == .rankMismatch)
        #expect(error.reason.contains("m.q"))
        #expect(error.hint.contains("ranks 4 and 8 differ in m.q: use cat or svd"))
        #expect(refusal([a, c], MergeRequest(method: .cat)) == nil)
        let svd = try MergeCompatibility.plan(inputs: [a, c], request: MergeRequest(method: .svd))
        #expect(svd.modules.allSatisfy { $0.outputRank == 8 })
        let cat = try MergeCompatibility.plan(inputs: [a, c], request: MergeRequest(method: .cat))
        #expect(cat.modules.allSatisfy { $0.outputRank == 12 })
    }

    @Test func scalingMismatchNeedsExplicitPermission() throws {
        let c = SyntheticAdapter.make(name: "c", seed: 3, scaling: 1).descriptor
        #expect(refusal([a, c], MergeRequest(method: .linear))?.kind == .scalingMismatch)
        #expect(refusal([a, c], MergeRequest(method: .linear, allowScalingMismatch: true)) == nil)
        #expect(refusal([a, c], MergeRequest(method: .svd)) == nil)
        #expect(refusal([a, c], MergeRequest(method: .slerp, t: 0.5, allowScalingMismatch: true))?.kind == .scalingMismatch)
    }

    @Test func differentBaseModelsAreRefused() throws {
        let c = SyntheticAdapter.make(name: "c", seed: 3, base: "other").descriptor
        let error = try #require(refusal([a, c], MergeRequest(method: .cat)))
        #expect(error.kind == .baseModelMismatch)
        #expect(error.reason.contains("inputs were trained on different base models"))
        var r1 = a, r2 = b
        r1.revision = "main"
        r2.revision = "v2"
        #expect(refusal([r1, r2], MergeRequest(method: .cat))?.kind == .baseModelMismatch)
    }

    @Test func doraAndModulesToSaveOverlapAreRefused() throws {
        var dora = b
        dora.useDora = true
        let error = try #require(refusal([a, dora], MergeRequest(method: .cat)))
        #expect(error.kind == .dora)
        #expect(error.reason.contains("DoRA input: its magnitude vectors cannot be merged this way"))
        var s1 = a, s2 = b
        s1.modulesToSave = ["lm_head"]
        s2.modulesToSave = ["lm_head", "score"]
        #expect(refusal([s1, s2], MergeRequest(method: .cat))?.kind == .modulesToSaveOverlap)
        s2.modulesToSave = ["score"]
        #expect(refusal([s1, s2], MergeRequest(method: .cat)) == nil)
    }

    @Test func shapeMismatchIsRefused() throws {
        let c = SyntheticAdapter.make(name: "c", seed: 3, modules: [("m.q", 24, 21)]).descriptor
        let error = try #require(refusal([a, c], MergeRequest(method: .cat)))
        #expect(error.kind == .shapeMismatch)
        #expect(error.reason.contains("m.q"))
    }

    @Test func parameterRangesAreChecked() {
        #expect(refusal([a, b], MergeRequest(method: .ties))?.kind == .missingParameter)
        #expect(refusal([a, b], MergeRequest(method: .ties, density: 1.5))?.kind == .badParameter)
        #expect(refusal([a, b], MergeRequest(method: .dareLinear, density: -0.1))?.kind == .badParameter)
        #expect(refusal([a, b], MergeRequest(method: .svd, svdRank: 0))?.kind == .badParameter)
        #expect(refusal([a, b], MergeRequest(method: .slerp, t: 1.2))?.kind == .badParameter)
        #expect(refusal([a, b], MergeRequest(method: .slerp))?.kind == .missingParameter)
        #expect(refusal([a, b, a], MergeRequest(method: .slerp, t: 0.5))?.kind == .slerpInputs)
        #expect(refusal([a, b], MergeRequest(method: .linear, weights: [1]))?.kind == .weightCount)
        #expect(refusal([], MergeRequest(method: .linear))?.kind == .noInputs)
        #expect(refusal([a, b], MergeRequest(method: .ties, density: 0))  == nil)
    }

    @Test func nonFiniteFactorsAreRefused() throws {
        var bad = SyntheticAdapter.make(name: "bad", seed: 3)
        bad.factors["m.v"]?.a[5] = .nan
        #expect(throws: MergeError.self) {
            try mergeSynthetic([SyntheticAdapter.make(name: "a", seed: 1), bad], MergeRequest(method: .cat))
        }
        do {
            _ = try mergeSynthetic([SyntheticAdapter.make(name: "a", seed: 1), bad], MergeRequest(method: .cat))
        } catch let error as MergeError {
            #expect(error.kind == .nonFinite)
            #expect(error.reason.contains("m.v.lora_A in bad"))
        }
    }

    @Test func canonicalJSONIsStable() throws {
        let request = MergeRequest(method: .dareTies, weights: [1, -0.5], density: 0.7, seed: 42)
        let json = String(decoding: try request.canonicalJSON(), as: UTF8.self)
        #expect(json == #"{"allow_scaling_mismatch":false,"density":0.7,"majority_sign":"total","method":"dare_ties","seed":42,"weights":[1,-0.5]}"#)
        let decoded = try JSONDecoder().decode(MergeRequest.self, from: Data(json.utf8))
        #expect(decoded == request)
    }
}
