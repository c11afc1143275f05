import Testing
@testable import Merge

/// Parameters at the edges of what Float32 and memory allow: refused by name or capped, never an abort or a
/// result holding NaN/Inf.
@Suite("Merge: extreme parameters")
struct ExtremeParameterTests {
    let modules: [(path: String, out: Int, in: Int)] = [("m.q", 48, 40), ("m.v", 30, 40)]

    @Test(arguments: [MergeMethod.linear, .ties, .cat, .svd])
    func overflowingWeightsAreRefusedNotRecorded(method: MergeMethod) throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, rank: 4, modules: modules)
        let y = SyntheticAdapter.make(name: "y", seed: 2, rank: 4, modules: modules)
        let request = MergeRequest(method: method, weights: [1e308, 1e308], density: method == .ties ? 0.5 : nil, svdRank: 4)
        let error = #expect(throws: MergeError.self) { try mergeSynthetic([x, y], request) }
        #expect(error?.kind == .nonFiniteOutput, "\(String(describing: error))")
        #expect(error?.code == "merge.non_finite_output")
    }

    @Test(arguments: [MergeMethod.svd, .tiesSVD, .magnitudePruneSVD])
    func aHugeSVDRankIsCappedAtTheModulesShape(method: MergeMethod) throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, rank: 4, modules: modules)
        let y = SyntheticAdapter.make(name: "y", seed: 2, rank: 6, modules: modules)
        let merged = try mergeSynthetic([x, y], MergeRequest(method: method, weights: [0.5, 0.5], density: 0.5, svdRank: 1_000_000_000))
        for module in merged {
            #expect(module.rank == min(module.inFeatures, module.outFeatures))
            #expect(module.a.count == module.rank * module.inFeatures && module.b.count == module.outFeatures * module.rank)
        }
    }

    @Test func aMillionWeightsAreRefusedByCountAtOnce() throws {
        let weights = [Double](repeating: 0.5, count: 1_000_000)
        let clock = ContinuousClock()
        let started = clock.now
        let error = #expect(throws: MergeError.self) {
            try MergeCompatibility.checkParameters(MergeRequest(method: .linear, weights: weights), inputCount: 2)
        }
        #expect(error?.kind == .weightCount && error?.reason.hasPrefix("1000000 weights for 2 inputs") == true)
        #expect(started.duration(to: clock.now) < .seconds(1))
    }

    @Test(arguments: [Double.nan, -0.01, 1.01, .infinity])
    func densityAndTOutsideTheUnitIntervalOrNaNAreRefused(value: Double) {
        for request in [MergeRequest(method: .ties, density: value), MergeRequest(method: .slerp, t: value)] {
            let error = #expect(throws: MergeError.self) { try MergeCompatibility.checkParameters(request, inputCount: 2) }
            #expect(error?.kind == .badParameter, "\(request)")
        }
    }

    @Test func svdRankZeroIsRefused() {
        let error = #expect(throws: MergeError.self) {
            try MergeCompatibility.checkParameters(MergeRequest(method: .svd, svdRank: 0), inputCount: 2)
        }
        #expect(error?.kind == .badParameter)
    }
}
