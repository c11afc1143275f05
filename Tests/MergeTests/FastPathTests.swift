import Testing
@testable import Merge

/// The fast paths of the dense `*_svd` methods give the results of the straightforward ones.
@Suite("Fast paths")
struct FastPathTests {
    /// Deterministic values with many exact ties (quantized) or all distinct.
    func values(_ count: Int, seed: UInt64, quantized: Bool) -> [Float] {
        let rng = CounterRNG(seed: seed, modulePath: "t", input: 0, tensor: .delta)
        return (0..<count).map { i in
            let x = rng.normal(i)
            return quantized ? (x * 8).rounded() / 8 : x
        }
    }

    func blocks(_ values: [Float], size: Int) -> ((UnsafeBufferPointer<Float>) -> Void) -> Void {
        { body in
            values.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(start + size, all.count)
                    body(UnsafeBufferPointer(rebasing: all[start..<end]))
                    start = end
                }
            }
        }
    }

    @Test(arguments: [false, true])
    func sampledThresholdEqualsTwoPassSelection(quantized: Bool) {
        let numel = 200_000
        let data = values(numel, seed: quantized ? 3 : 4, quantized: quantized)
        let rng = CounterRNG(seed: 9, modulePath: "s", input: 0, tensor: .sample)
        let sample = (0..<4096).map { data[Int(rng.bits($0) % UInt64(numel))] }
        for k in [1, 17, numel / 100, numel / 2, numel - 3, numel - 1, numel] {
            let exact = MagnitudeThreshold.find(k: k, numel: numel, forEachBlock: blocks(data, size: 7000))
            let fast = MagnitudeThreshold.find(k: k, numel: numel, sample: sample, forEachBlock: blocks(data, size: 7000))
            #expect(fast == exact, "k = \(k)")
        }
    }

    @Test func sampledThresholdFallsBackWhenTheSampleMisleads() {
        let numel = 50_000
        let data = values(numel, seed: 5, quantized: false)
        // A sample of only the largest values puts the bracket far above the median.
        let misleading = Array(data.map(abs).sorted(by: >).prefix(2048))
        let exact = MagnitudeThreshold.find(k: numel / 2, numel: numel, forEachBlock: blocks(data, size: 4096))
        let fast = MagnitudeThreshold.find(k: numel / 2, numel: numel, sample: misleading, forEachBlock: blocks(data, size: 4096))
        #expect(fast == exact)
    }

    /// The bracket scan's two forms against the definition: the count above `high` and the entries in [low, high]
    /// in order, for lengths around the 16-lane steps, entries exactly at either edge, negative zero, NaN and ±Inf.
    @Test func bracketScanFormsAgreeWithTheDefinition() {
        var data = values(5000, seed: 91, quantized: true)
        data[0] = -0.0; data[1] = .nan; data[2] = .infinity; data[3] = -.infinity
        let sorted = data.map { $0.bitPattern & 0x7FFF_FFFF }.sorted()
        let low = sorted[1000], high = sorted[1300]
        for n in [0, 1, 15, 16, 17, 33, 1000, 5000] {
            let block = Array(data.prefix(n))
            let bits = block.map { $0.bitPattern & 0x7FFF_FFFF }
            let expectedAbove = bits.filter { $0 > high }.count
            let expectedInside = bits.filter { $0 >= low && $0 <= high }
            for vectorized in [true, false] {
                var inside: [UInt32] = [], scratch: [UInt32] = []
                let above = block.withUnsafeBufferPointer {
                    MagnitudeThreshold.scan($0, low: low, high: high, into: &inside, scratch: &scratch, vectorized: vectorized)
                }
                #expect(above == expectedAbove, "n \(n) vectorized \(vectorized)")
                #expect(inside == expectedInside, "n \(n) vectorized \(vectorized)")
            }
        }
    }

    /// The bracket's two order statistics, selected by radix, are those of a descending sort of the sample, with
    /// and without repeated values, for thresholds near either end and in the middle.
    @Test func bracketSelectsTheSortedSamplesOrderStatistics() throws {
        for quantized in [false, true] {
            let sample = values(4096, seed: 77, quantized: quantized)
            let sorted = sample.map { $0.bitPattern & 0x7FFF_FFFF }.sorted(by: >)
            for (k, numel) in [(1, 100_000), (50_000, 100_000), (99_000, 100_000), (350, 1_000), (3, 7)] {
                let p = Double(k) / Double(numel)
                let margin = Int((6 * (Double(sample.count) * p * (1 - p)).squareRoot()).rounded(.up)) + 8
                let center = Int((p * Double(sample.count)).rounded())
                let (highIndex, lowIndex) = (center - margin, center + margin)
                let found = MagnitudeThreshold.bracket(k: k, numel: numel, sample: sample)
                if highIndex < 0 && lowIndex >= sample.count {
                    #expect(found == nil)
                    continue
                }
                let bracket = try #require(found)
                #expect(bracket.high == (highIndex < 0 ? UInt32.max : sorted[highIndex]), "k \(k) of \(numel)")
                #expect(bracket.low == (lowIndex >= sample.count ? 0 : sorted[lowIndex]), "k \(k) of \(numel)")
            }
        }
    }

    /// The threshold pass reads Δ_i in cache-sized tiles, the combining pass in row blocks: both must see exactly
    /// the same entries, bit for bit (a shape wider than one 2,048-column panel, neither side a multiple of a tile).
    @Test func tilesHoldTheEntriesOfTheRowBlocks() throws {
        let shape: [(path: String, out: Int, in: Int)] = [("m.wide", 77, 4_500)]
        let x = SyntheticAdapter.make(name: "w", seed: 9, rank: 5, modules: shape)
        let f = try #require(x.factors["m.wide"])
        let input = ModuleInput(index: 0, a: f.a, b: f.b, rank: 5, scaling: 1.7, weight: 1)
        let builder = DenseDeltaBuilder(request: MergeRequest(method: .tiesSVD, density: 0.5), rule: .ties, path: "m.wide",
                                        rows: 77, cols: 4_500, inputs: [input])
        var blocks: [UInt32] = [], tiles: [UInt32] = []
        builder.forEachBlock(of: input) { blocks += $0.map(\.bitPattern) }
        builder.forEachTile(of: input) { tiles += $0.map(\.bitPattern) }
        #expect(blocks.count == 77 * 4_500)
        #expect(tiles.sorted() == blocks.sorted())
    }

    /// A module big enough for the sampled threshold: the builder's D equals masks from the two-pass selection
    /// on the whole Δ_i, combined by TIES.
    @Test func denseDeltaWithSampledThresholdsEqualsTheReference() throws {
        let shape: [(path: String, out: Int, in: Int)] = [("m.big", 1100, 960)]
        let xs = (0..<3).map { SyntheticAdapter.make(name: "x\($0)", seed: UInt64(40 + $0), rank: 4, modules: shape) }
        let inputs = try xs.enumerated().map { index, x in
            let f = try #require(x.factors["m.big"])
            return ModuleInput(index: index, a: f.a, b: f.b, rank: 4, scaling: 2, weight: [0.5, 0.3, 0.2][index])
        }
        let request = MergeRequest(method: .tiesSVD, density: 0.35)
        let builder = DenseDeltaBuilder(request: request, rule: .ties, path: "m.big", rows: 1100, cols: 960, inputs: inputs)
        #expect(!builder.sample(of: inputs[0]).isEmpty)
        let trimmed = xs.map { x in
            var delta = x.delta("m.big")
            let k = MagnitudeThreshold.keepCount(density: 0.35, numel: delta.count)
            var mask = MagnitudeMask(MagnitudeThreshold.find(k: k, in: delta))
            delta.withUnsafeMutableBufferPointer { mask.apply($0) }
            return delta
        }
        var reference = [Float](repeating: 0, count: 1100 * 960)
        let combiner = ElementwiseCombiner(rule: .ties, weights: [0.5, 0.3, 0.2], majoritySign: .total)
        withBuffers(trimmed) { buffers in reference.withUnsafeMutableBufferPointer { combiner.combine(buffers, into: $0) } }
        #expect(relativeError(builder.build(), reference) <= 1e-6)
    }

    /// Shaped like a 7B MLP module scaled down 4× (out 2752, in 1024, three rank-16 inputs, TIES at 0.5): the
    /// default randomized truncation's error is within 0.1 % of the optimal one, and the reported error is
    /// the true ‖D − D_k‖.
    @Test func randomizedTruncationOnAnMLPShapedDelta() throws {
        let (rows, cols, rank) = (2752, 1024, 16)
        let shape: [(path: String, out: Int, in: Int)] = [("m.mlp", rows, cols)]
        let inputs = try (0..<3).map { index in
            let x = SyntheticAdapter.make(name: "x\(index)", seed: UInt64(60 + index), rank: rank, modules: shape)
            let f = try #require(x.factors["m.mlp"])
            return ModuleInput(index: index, a: f.a, b: f.b, rank: rank, scaling: 2, weight: 1.0 / 3)
        }
        let dense = DenseDeltaBuilder(
            request: MergeRequest(method: .tiesSVD, density: 0.5), rule: .ties, path: "m.mlp", rows: rows, cols: cols,
            inputs: inputs
        ).build()
        let exact = try Truncation.exact(dense: dense, rows: rows, cols: cols, k: rank)
        let fast = try Truncation.randomized(
            dense: dense, rows: rows, cols: cols, k: rank, signalRank: 3 * rank,
            rng: CounterRNG(seed: 7, modulePath: "m.mlp", input: -1, tensor: .gaussian))
        let optimal = exact.errorSquared.squareRoot(), ours = fast.errorSquared.squareRoot()
        #expect(ours <= optimal * 1.001, "randomized \(ours) vs optimal \(optimal)")
        let approx = LinearAlgebra.multiply(fast.b, rows, rank, fast.a, rank, cols)
        var direct: Double = 0
        for i in dense.indices { direct += Double(dense[i] - approx[i]) * Double(dense[i] - approx[i]) }
        #expect(abs(direct.squareRoot() - ours) < 1e-3 * ours)
    }
}
