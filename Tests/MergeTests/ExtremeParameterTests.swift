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
}
