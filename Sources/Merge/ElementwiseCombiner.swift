/// Combines same-length blocks of the (already trimmed or DARE-masked, unweighted) tensors T_i into one block:
/// a weighted sum, or TIES' sign election and disjoint mean.
struct ElementwiseCombiner: Sendable {
    let rule: ElementwiseRule
    let weights: [Float]
    let majoritySign: MajoritySignMethod

    /// Writes the combination of `inputs` (each `output.count` long) into `output`.
    ///
    /// Loops run input by input over contiguous memory (so they vectorize); the sums still add the inputs in
    /// order 0..<n for every entry, as an entry-by-entry loop would.
    func combine(_ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>) {
        let length = output.count
        guard let out = output.baseAddress, length > 0 else { return }
        out.update(repeating: 0, count: length)
        let bases = inputs.compactMap(\.baseAddress)
        guard bases.count == inputs.count else { return }
        if !rule.electsSign {
            for (i, x) in bases.enumerated() {
                let w = weights[i]
                for j in 0..<length { out[j] += w * x[j] }
            }
            return
        }
        let vote = UnsafeMutablePointer<Float>.allocate(capacity: length)
        let count = UnsafeMutablePointer<Float>.allocate(capacity: length)
        defer {
            vote.deallocate()
            count.deallocate()
        }
        vote.initialize(repeating: 0, count: length)
        count.initialize(repeating: 0, count: length)
        for x in bases {
            switch majoritySign {
            case .total:
                for j in 0..<length { vote[j] += x[j] }
            case .frequency:
                for j in 0..<length {
                    let v = x[j]
                    vote[j] += v > 0 ? 1 : (v < 0 ? -1 : 0)
                }
            }
        }
        for (i, x) in bases.enumerated() {
            let w = weights[i]
            for j in 0..<length {
                let v = x[j]
                let agrees: Float = (vote[j] >= 0 ? v > 0 : v < 0) ? 1 : 0
                out[j] += agrees * (w * v)
                count[j] += agrees
            }
        }
        for j in 0..<length { out[j] /= max(count[j], 1) }
    }
}

/// DARE: keep each entry with probability `density` and divide the kept ones by `density`.
struct DAREMask: Sendable {
    let rng: CounterRNG
    let density: Float

    /// Masks `block`, whose first entry is element `start` of the whole tensor (row-major).
    func apply(_ block: UnsafeMutableBufferPointer<Float>, start: Int) {
        if density >= 1 { return }
        if density <= 0 {
            block.update(repeating: 0)
            return
        }
        let scale = 1 / density
        // uniform(i) < density  ⟺  its 24 random bits < density · 2^24 (both exact in Float).
        let limit = density * 0x1p24
        let key = rng.key
        for j in block.indices {
            let bits = CounterRNG.mix(key &+ (UInt64(truncatingIfNeeded: start + j) &+ 1) &* 0x9E37_79B9_7F4A_7C15) &>> 40
            block[j] = Float(bits) < limit ? block[j] * scale : 0
        }
    }
}
