import Testing
@testable import Merge

@Suite("Deterministic DARE")
struct DARETests {
    let modules: [(path: String, out: Int, in: Int)] = (0..<6).map { ("model.layers.\($0).q_proj", 40, 36) }

    func inputs() -> [SyntheticAdapter] {
        (0..<3).map { SyntheticAdapter.make(name: "in\($0)", seed: UInt64(10 + $0), modules: modules) }
    }

    @Test(arguments: [MergeMethod.dareLinear, .dareTies, .dareLinearSVD, .dareTiesSVD])
    func sameSeedGivesSameBytesOnOneAndTwoThreads(method: MergeMethod) throws {
        let request = MergeRequest(method: method, weights: [0.5, 0.3, 0.2], density: 0.4, svdRank: 4, seed: 1234)
        let one = try mergeSynthetic(inputs(), request, threads: 1)
        let two = try mergeSynthetic(inputs(), request, threads: 2)
        #expect(one.count == modules.count)
        for (x, y) in zip(one, two) {
            #expect(x.a.map(\.bitPattern) == y.a.map(\.bitPattern))
            #expect(x.b.map(\.bitPattern) == y.b.map(\.bitPattern))
        }
        var other = request
        other.seed = 1235
        let different = try mergeSynthetic(inputs(), other, threads: 2)
        #expect(different[0].a != one[0].a || different[0].b != one[0].b)
    }

    @Test(arguments: [0.1, 0.3, 0.7, 0.9])
    func keptFractionMatchesDensity(density: Double) {
        let count = 200_000
        var values = [Float](repeating: 1, count: count)
        let mask = DAREMask(rng: CounterRNG(seed: 9, modulePath: "p", input: 0, tensor: .delta), density: Float(density))
        values.withUnsafeMutableBufferPointer { mask.apply($0, start: 0) }
        let kept = Double(values.filter { $0 != 0 }.count) / Double(count)
        let sigma = (density * (1 - density) / Double(count)).squareRoot()
        #expect(abs(kept - density) < 5 * sigma)
        #expect(values.allSatisfy { $0 == 0 || abs($0 - Float(1 / density)) < 1e-5 })
    }

    @Test func expectedValueIsPreserved() {
        let count = 100_000
        let source = CounterRNG(seed: 3, modulePath: "x", input: 0, tensor: .gaussian)
        let original = (0..<count).map { source.normal($0) }
        var sumOriginal: Double = 0, sumMasked: Double = 0
        for seed in 0..<4 {
            var values = original
            let mask = DAREMask(
                rng: CounterRNG(seed: UInt64(seed), modulePath: "p", input: 1, tensor: .loraA), density: 0.3)
            values.withUnsafeMutableBufferPointer { mask.apply($0, start: 0) }
            for i in 0..<count {
                sumOriginal += Double(original[i] * original[i])
                sumMasked += Double(values[i] * original[i])
            }
        }
        #expect(abs(sumMasked / sumOriginal - 1) < 0.03)
    }

    @Test func masksDependOnPositionNotOnBlocking() {
        let rng = CounterRNG(seed: 5, modulePath: "p", input: 2, tensor: .delta)
        let mask = DAREMask(rng: rng, density: 0.5)
        var whole = [Float](repeating: 1, count: 1000)
        whole.withUnsafeMutableBufferPointer { mask.apply($0, start: 0) }
        var pieces = [Float](repeating: 1, count: 1000)
        pieces.withUnsafeMutableBufferPointer { buffer in
            for start in stride(from: 0, to: 1000, by: 137) {
                let end = min(start + 137, 1000)
                mask.apply(UnsafeMutableBufferPointer(rebasing: buffer[start..<end]), start: start)
            }
        }
        #expect(whole == pieces)
    }
}
