import Testing
@testable import Merge

@Suite("Merge algebra")
struct MergeAlgebraTests {
    let modules: [(path: String, out: Int, in: Int)] = [("m.q", 48, 40), ("m.v", 30, 40)]

    @Test func catThenFullRankSVDEqualsSVD() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, rank: 4, modules: modules)
        let y = SyntheticAdapter.make(name: "y", seed: 2, rank: 6, scaling: 0.5, modules: modules)
        for rank in [10, 3] {
            let direct = try mergeSynthetic([x, y], MergeRequest(method: .svd, weights: [0.7, -0.4], svdRank: rank))
            let cat = try mergeSynthetic([x, y], MergeRequest(method: .cat, weights: [0.7, -0.4]))
            var catAdapter = SyntheticAdapter(
                descriptor: MergeInputDescriptor(name: "cat", baseModel: "base", modules: cat.map {
                    ModuleDescriptor(path: $0.path, rank: $0.rank, scaling: 1, inFeatures: $0.inFeatures, outFeatures: $0.outFeatures)
                }), factors: [:])
            for module in cat { catAdapter.factors[module.path] = (module.a, module.b) }
            let again = try mergeSynthetic([catAdapter], MergeRequest(method: .svd, weights: [1], svdRank: rank))
            for (p, q) in zip(direct, again) {
                #expect(p.rank == rank)
                #expect(relativeError(product(q), product(p)) < 1e-4)
            }
        }
    }

    @Test func catAndFullRankSVDAreExact() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, rank: 4, modules: modules)
        let y = SyntheticAdapter.make(name: "y", seed: 2, rank: 6, scaling: 0.5, modules: modules)
        let weights = [0.7, -0.4]
        for method in [MergeMethod.cat, .svd] {
            let merged = try mergeSynthetic([x, y], MergeRequest(method: method, weights: weights, svdRank: 10))
            for module in merged {
                let dx = x.delta(module.path), dy = y.delta(module.path)
                let expected = dx.indices.map { Float(weights[0]) * dx[$0] + Float(weights[1]) * dy[$0] }
                #expect(relativeError(product(module), expected) < 1e-5)
            }
        }
    }

    @Test(arguments: [2.0, 0.5, -1.5])
    func linearWithOneInputScalesTheDelta(weight: Double) throws {
        let x = SyntheticAdapter.make(name: "x", seed: 4, rank: 4, scaling: 2, modules: modules)
        let merged = try mergeSynthetic([x], MergeRequest(method: .linear, weights: [weight]))
        for module in merged {
            let expected = x.delta(module.path).map { $0 * Float(weight) }
            #expect(relativeError(product(module), expected) < 1e-5)
        }
    }

    @Test func subtractingAnAdapterFromItselfCancels() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 4, modules: modules)
        let merged = try mergeSynthetic([x, x], MergeRequest(method: .svd, weights: [1, -1], svdRank: 4))
        for module in merged {
            let norm = x.delta(module.path).reduce(0) { $0 + Double($1 * $1) }.squareRoot()
            let left = product(module).reduce(0) { $0 + Double($1 * $1) }.squareRoot()
            #expect(left < 1e-5 * norm)
        }
    }

    @Test func thresholdKeepsExactlyKEvenWithTies() {
        let values: [Float] = [1, -5, 2, 2, -2, 0.5, 2, 0]
        for k in 0...values.count {
            var copy = values
            var mask = MagnitudeMask(MagnitudeThreshold.find(k: k, in: values))
            copy.withUnsafeMutableBufferPointer { mask.apply($0) }
            #expect(copy.filter { $0 != 0 }.count == min(k, values.filter { $0 != 0 }.count))
            let keptMin = copy.filter { $0 != 0 }.map(abs).min() ?? .infinity
            let droppedMax = zip(values, copy).filter { $0.1 == 0 }.map { abs($0.0) }.max() ?? 0
            #expect(keptMin >= droppedMax)
        }
    }

    @Test func tiesElectsTheSignOfTheUnweightedSumAndAveragesAgreeingEntries() {
        let combiner = ElementwiseCombiner(rule: .ties, weights: [1, 2], majoritySign: .total)
        let t1: [Float] = [1, -2, 0, 3]
        let t2: [Float] = [3, 1, -1, -3]
        var out = [Float](repeating: 0, count: 4)
        withBuffers([t1, t2]) { buffers in out.withUnsafeMutableBufferPointer { combiner.combine(buffers, into: $0) } }
        // Entry 0: both positive → (1·1 + 2·3)/2. Entry 1: sum −1 → only t1 agrees → −2.
        // Entry 2: only t2, negative → 2·(−1). Entry 3: sum 0 elects + → only t1 → 3.
        #expect(out == [3.5, -2, -2, 3])
        let frequency = ElementwiseCombiner(rule: .ties, weights: [1, 1, 1], majoritySign: .frequency)
        withBuffers([[5], [-1], [-1]]) { buffers in out.withUnsafeMutableBufferPointer {
            frequency.combine(buffers, into: UnsafeMutableBufferPointer(rebasing: $0[0..<1]))
        } }
        #expect(out[0] == -1)
    }

    @Test func randomizedTruncationIsWithinATenthOfAPercentOfOptimal() throws {
        let big: [(path: String, out: Int, in: Int)] = [("m.big", 600, 520)]
        let xs = (0..<3).map { SyntheticAdapter.make(name: "x\($0)", seed: UInt64(20 + $0), rank: 8, modules: big) }
        let inputs = xs.enumerated().map { index, x in
            ModuleInput(index: index, a: x.factors["m.big"]!.a, b: x.factors["m.big"]!.b, rank: 8, scaling: 2, weight: 1)
        }
        let builder = DenseDeltaBuilder(
            request: MergeRequest(method: .tiesSVD, density: 0.3), rule: .ties, path: "m.big", rows: 600, cols: 520,
            inputs: inputs)
        let dense = builder.build()
        let exact = try Truncation.exact(dense: dense, rows: 600, cols: 520, k: 8)
        let fast = try Truncation.randomized(
            dense: dense, rows: 600, cols: 520, k: 8, signalRank: 24, rng: CounterRNG(seed: 0, modulePath: "m.big", input: -1, tensor: .gaussian))
        #expect(fast.errorSquared.squareRoot() <= exact.errorSquared.squareRoot() * 1.001)
        let approx = LinearAlgebra.multiply(fast.b, 600, 8, fast.a, 8, 520)
        var direct: Double = 0
        for i in dense.indices { direct += Double(dense[i] - approx[i]) * Double(dense[i] - approx[i]) }
        #expect(abs(direct.squareRoot() - fast.errorSquared.squareRoot()) < 1e-3 * fast.errorSquared.squareRoot())
    }

    @Test func slerpEndpointsAndColinearInputs() {
        let x: [Float] = [1, 0, 2], y: [Float] = [0, 1, -1]
        #expect(relativeError(ModuleMerger.slerp(x, y, t: 0), x) < 1e-6)
        #expect(relativeError(ModuleMerger.slerp(x, y, t: 1), y) < 1e-6)
        let z = x.map { $0 * 3 }
        #expect(relativeError(ModuleMerger.slerp(x, z, t: 0.25), x.map { $0 * 1.5 }) < 1e-6)
    }
}

@Suite("Interference")
struct InterferenceTests {
    let modules: [(path: String, out: Int, in: Int)] = [("m.q", 48, 40), ("m.v", 30, 40)]

    func analyze(_ adapters: [SyntheticAdapter]) throws -> InterferenceReport {
        let tables = adapters.map(\.factors)
        return try InterferenceAnalyzer.analyze(inputs: adapters.map(\.descriptor)) { index, path in
            guard let f = tables[index][path] else { throw MergeError(.input, "missing") }
            return f
        }
    }

    @Test func cosineFromFactorsEqualsDenseCosine() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, modules: modules)
        let y = SyntheticAdapter.make(name: "y", seed: 2, rank: 6, modules: modules)
        let report = try analyze([x, y])
        for module in report.modules {
            let dx = x.delta(module.path), dy = y.delta(module.path)
            var dot: Double = 0, nx: Double = 0, ny: Double = 0
            for i in dx.indices {
                dot += Double(dx[i] * dy[i])
                nx += Double(dx[i] * dx[i])
                ny += Double(dy[i] * dy[i])
            }
            let pair = try #require(module.pairs.first)
            #expect(abs(pair.cosine - dot / (nx * ny).squareRoot()) < 1e-4)
        }
    }

    @Test func opposedAdaptersAreHighRisk() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, modules: modules)
        var negated = x
        negated.descriptor.name = "negated"
        for (path, f) in x.factors { negated.factors[path] = (f.a, f.b.map { -$0 }) }
        let report = try analyze([x, negated])
        #expect(report.risk == .high)
        #expect(abs(report.pairs[0].cosine + 1) < 1e-4)
        #expect(abs(report.pairs[0].subspaceOverlap - 1) < 1e-4)
        #expect(report.signConflictRate == 1)
        let same = try analyze([x, x])
        #expect(same.risk == .low)
        #expect(same.signConflictRate == 0)
    }

    /// (−B)(−A) = BA: the dense updates agree, but merging A's and B's separately cancels them.
    @Test func opposedFactorsWithAlignedDeltasAreHighRiskForFactorMerges() throws {
        let x = SyntheticAdapter.make(name: "x", seed: 1, modules: modules)
        var flipped = x
        flipped.descriptor.name = "flipped"
        for (path, f) in x.factors { flipped.factors[path] = (f.a.map { -$0 }, f.b.map { -$0 }) }
        let report = try analyze([x, flipped])
        #expect(abs(report.pairs[0].cosine - 1) < 1e-4)
        #expect(report.signConflictRate == 0)
        // A_m = 0: the factor merge keeps nothing of the exact sum.
        #expect(abs(try #require(report.factorMergeRetention)) < 1e-4)
        #expect(abs(try #require(report.factorMergeRelativeError) - 1) < 1e-4)
        #expect(report.factorSignConflictRate == 1)
        #expect(report.risk == .high)
        #expect(report.verdict.contains("factor-space"))
        let same = try analyze([x, x])
        // (Σ √c B)(Σ √c A) = n² c BA against the exact n c BA: twice the sum for two identical inputs.
        #expect(abs(try #require(same.factorMergeRetention) - 2) < 1e-3)
        #expect(same.risk == .low)
    }
}

