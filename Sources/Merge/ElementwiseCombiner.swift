/// Combines same-length blocks of the (already trimmed or DARE-masked, unweighted) tensors T_i into one block:
/// a weighted sum, or TIES' sign election and disjoint mean.
struct ElementwiseCombiner: Sendable {
    let rule: ElementwiseRule
    let weights: [Float]
    let majoritySign: MajoritySignMethod

    /// Writes the combination of `inputs` (each `output.count` long) into `output`.
    func combine(_ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>) {
        let n = inputs.count
        if !rule.electsSign {
            for j in output.indices {
                var sum: Float = 0
                for i in 0..<n { sum += weights[i] * inputs[i][j] }
                output[j] = sum
            }
            return
        }
        for j in output.indices {
            var vote: Float = 0
            for i in 0..<n {
                let x = inputs[i][j]
                switch majoritySign {
                case .total: vote += x
                case .frequency: vote += x > 0 ? 1 : (x < 0 ? -1 : 0)
                }
            }
            let positive = vote >= 0
            var sum: Float = 0
            var count: Float = 0
            for i in 0..<n {
                let x = inputs[i][j]
                if (positive && x > 0) || (!positive && x < 0) {
                    sum += weights[i] * x
                    count += 1
                }
            }
            output[j] = sum / max(count, 1)
        }
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
        for j in block.indices {
            block[j] = rng.uniform(start + j) < density ? block[j] * scale : 0
        }
    }
}
