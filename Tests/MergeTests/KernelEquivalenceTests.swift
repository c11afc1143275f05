import Testing
@testable import Merge

/// The vectorized and chunked kernels give, bit for bit, what the straightforward entry-by-entry definitions give.
@Suite("Kernels bit-identical to their definitions")
struct KernelEquivalenceTests {
    func values(_ count: Int, seed: UInt64, quantized: Bool) -> [Float] {
        let rng = CounterRNG(seed: seed, modulePath: "k", input: 0, tensor: .delta)
        return (0..<count).map { i in
            let x = rng.normal(i)
            return quantized ? (x * 4).rounded() / 4 : x
        }
    }

    func same(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    @Test(arguments: [false, true])
    func radixThresholdEqualsStreamingSelection(quantized: Bool) {
        for numel in [1, 7, 1000, 65_536, 176_128] {
            var data = values(numel, seed: quantized ? 11 : 12, quantized: quantized)
            if numel > 10 { data[3] = 0; data[5] = -0.0; data[7] = .leastNonzeroMagnitude }
            for k in Set([0, 1, 2, numel / 3, numel / 2, numel - 1, numel, numel + 1]) {
                #expect(MagnitudeThreshold.find(k: k, in: data) == MagnitudeThreshold.findStreaming(k: k, in: data), "numel \(numel) k \(k)")
            }
        }
    }

    /// The sampled selection on a whole tensor is taken for ordinary LoRA factors (so the fast path is not
    /// silently skipped) and gives the radix selection's threshold: Gaussian entries, entries with many exact ties,
    /// and a B factor whose columns differ in scale by 1000× (a strided sample would see one column only).
    @Test func sampledWholeTensorSelectionEqualsRadixSelection() {
        let rows = 4096, rank = 16
        let gaussian = values(rows * rank, seed: 21, quantized: false)
        let ties = values(176_128, seed: 22, quantized: true)
        let columns = values(rows * rank, seed: 23, quantized: false).enumerated().map { index, x in
            x * Float(index % rank == 0 ? 1000 : 1)
        }
        for (name, data) in [("gaussian", gaussian), ("ties", ties), ("column scales", columns)] {
            let numel = data.count
            for k in Set([1, 2, numel / 100, numel / 3, numel / 2, 2 * numel / 3, numel - 2, numel - 1]) {
                let sampled = data.withUnsafeBufferPointer { floats in
                    floats.withMemoryRebound(to: UInt32.self) { MagnitudeThreshold.findBySample(k: k, floats: floats, bits: $0) }
                }
                let radix = data.withUnsafeBufferPointer { floats in
                    floats.withMemoryRebound(to: UInt32.self) { MagnitudeThreshold.findByRadix(k: k, bits: $0) }
                }
                if k == numel / 2 || k == numel / 3 { #expect(sampled != nil, "\(name) k \(k): the sample's bracket missed") }
                if let sampled { #expect(sampled == radix, "\(name) k \(k)") }
                #expect(MagnitudeThreshold.find(k: k, in: data) == radix, "\(name) k \(k)")
            }
        }
    }

    /// A tensor built against the sample: its sampled positions hold the largest entries, so the bracket lies far
    /// above the true threshold. The counts catch it, and the radix selection gives the exact threshold.
    @Test func misleadingTensorFallsBackToRadixSelection() {
        let numel = 65_536
        var data = values(numel, seed: 24, quantized: false).map { $0 * 0.01 }
        for i in 0..<MagnitudeThreshold.wholeSampleSize {
            let fraction = (UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15) >> 32
            data[Int((fraction &* UInt64(numel)) >> 32)] = 100 + Float(i)
        }
        let k = numel / 2
        let sampled = data.withUnsafeBufferPointer { floats in
            floats.withMemoryRebound(to: UInt32.self) { MagnitudeThreshold.findBySample(k: k, floats: floats, bits: $0) }
        }
        #expect(sampled == nil)
        #expect(MagnitudeThreshold.find(k: k, in: data) == MagnitudeThreshold.findStreaming(k: k, in: data))
    }

    /// Both forms of the C kernel (AVX-512 where this CPU has it, and the scalar one) against the definition in
    /// Swift: same bits for every length around the 16-lane steps, odd starts, starts past 2^32, and NaN, ±Inf and
    /// -0 values.
    @Test(arguments: [0.1, 0.5, 0.9])
    func vectorDAREEqualsTheScalarDefinition(density: Double) {
        let rng = CounterRNG(seed: 5, modulePath: "layers.0.q", input: 2, tensor: .loraA)
        let mask = DAREMask(rng: rng, density: Float(density))
        for (start, count) in [(0, 1), (0, 7), (0, 8), (0, 15), (0, 16), (5, 17), (3, 1001), (1 << 20, 4096), ((1 << 33) + 7, 333)] {
            var original = values(count, seed: UInt64(count), quantized: false)
            if count > 8 { original[1] = .nan; original[2] = .infinity; original[3] = -.infinity; original[4] = -0.0 }
            let limit = Float(density) * 0x1p24, scale = 1 / Float(density)
            let reference = original.indices.map { j in
                Float(rng.bits(start + j) >> 40) < limit ? original[j] * scale : 0
            }
            for vectorized in [true, false] {
                var masked = original
                masked.withUnsafeMutableBufferPointer { mask.apply($0, start: start, vectorized: vectorized) }
                #expect(same(masked, reference), "start \(start) count \(count) vectorized \(vectorized)")
            }
        }
    }

    /// Both forms of the C kernel against the entry-by-entry definition in Swift, bit for bit: an all -0 entry,
    /// NaN and ±Inf (a dropped infinity still makes 0·Inf = NaN, as the definition says), a length that is not a
    /// multiple of sixteen, one input and three.
    @Test(arguments: [ElementwiseRule.linear, .ties], [MajoritySignMethod.total, .frequency])
    func chunkedCombinerEqualsEntryByEntry(rule: ElementwiseRule, sign: MajoritySignMethod) {
        for (count, vectorized) in [(3, true), (3, false), (1, true), (1, false)] {
            combinerEqualsEntryByEntry(rule: rule, sign: sign, inputCount: count, vectorized: vectorized)
        }
    }

    func combinerEqualsEntryByEntry(rule: ElementwiseRule, sign: MajoritySignMethod, inputCount: Int, vectorized: Bool) {
        let length = 3 * ElementwiseCombiner.chunk + 5
        var inputs = (0..<inputCount).map { values(length, seed: UInt64(20 + $0), quantized: true) }
        for i in inputs.indices { inputs[i][0] = -0.0 }
        inputs[0][1] = .nan
        inputs[inputCount - 1][2] = .infinity
        inputs[0][3] = -.infinity
        let weights = Array([Float(0.5), -0.25, 1.5].prefix(inputCount))
        let combiner = ElementwiseCombiner(rule: rule, weights: weights, majoritySign: sign)
        let output = [Float](unsafeUninitializedCapacity: length) { buffer, count in
            withBuffers(inputs) { combiner.combine($0, into: buffer, vectorized: vectorized) }
            count = length
        }
        let reference = (0..<length).map { j -> Float in
            if !rule.electsSign {
                var sum: Float = 0
                for i in inputs.indices { sum += weights[i] * inputs[i][j] }
                return sum
            }
            var vote: Float = 0
            for i in inputs.indices {
                let v = inputs[i][j]
                vote += sign == .total ? v : (v > 0 ? 1 : (v < 0 ? -1 : 0))
            }
            var sum: Float = 0, count: Float = 0
            for i in inputs.indices {
                let v = inputs[i][j]
                let agrees: Float = (vote >= 0 ? v > 0 : v < 0) ? 1 : 0
                sum += agrees * (weights[i] * v)
                count += agrees
            }
            return sum / max(count, 1)
        }
        #expect(same(output, reference), "\(rule) \(sign) \(inputCount) inputs, vectorized \(vectorized)")
    }

    @Test func allFiniteFindsEveryNonFiniteValue() {
        for count in [0, 1, 8, 9, 100] {
            #expect(allFinite([Float](repeating: 1, count: count)))
            for position in Set([0, count / 2, count - 1]) where count > 0 {
                for bad: Float in [.nan, .infinity, -.infinity, .signalingNaN] {
                    var data = [Float](repeating: -3, count: count)
                    data[position] = bad
                    #expect(!allFinite(data))
                }
            }
        }
        #expect(allFinite([.greatestFiniteMagnitude, -.greatestFiniteMagnitude]))
    }
}
