import CMergeKernels

/// Combines same-length blocks of the (already trimmed or DARE-masked, unweighted) tensors T_i into one block:
/// a weighted sum, or TIES' sign election and disjoint mean.
struct ElementwiseCombiner: Sendable {
    let rule: ElementwiseRule
    let weights: [Float]
    let majoritySign: MajoritySignMethod

    /// Entries combined at a time: the output chunk and the sign-election work arrays stay in the L1/L2 cache
    /// while every input is added to them, and the work arrays are small enough to come from the heap, not from
    /// fresh zero-filled pages.
    static let chunk = 4096

    /// Writes the combination of `inputs` (each `output.count` long) into `output`, which may be uninitialized.
    ///
    /// Loops run input by input over contiguous memory (so they vectorize); the sums still add the inputs in
    /// order 0..<n for every entry, as an entry-by-entry loop would, starting from +0 (so an all -0 sum is +0,
    /// as it always was).
    func combine(_ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>) {
        let length = output.count
        guard let out = output.baseAddress, length > 0 else { return }
        let bases = inputs.compactMap(\.baseAddress)
        guard bases.count == inputs.count, !bases.isEmpty else {
            out.initialize(repeating: 0, count: length)
            return
        }
        if !rule.electsSign {
            var c0 = 0
            while c0 < length {
                let n = min(Self.chunk, length - c0)
                let o = out + c0
                for (i, base) in bases.enumerated() {
                    let w = weights[i], x = base + c0
                    if i == 0 {
                        for j in 0..<n { o[j] = 0 + w * x[j] }
                    } else {
                        for j in 0..<n { o[j] += w * x[j] }
                    }
                }
                c0 += n
            }
            return
        }
        let work = min(Self.chunk, length)
        let vote = UnsafeMutablePointer<Float>.allocate(capacity: work)
        let count = UnsafeMutablePointer<Float>.allocate(capacity: work)
        defer {
            vote.deallocate()
            count.deallocate()
        }
        let last = bases.count - 1
        var c0 = 0
        while c0 < length {
            let n = min(Self.chunk, length - c0)
            let o = out + c0
            for (i, base) in bases.enumerated() {
                let x = base + c0
                switch (majoritySign, i == 0) {
                case (.total, true): for j in 0..<n { vote[j] = 0 + x[j] }
                case (.total, false): for j in 0..<n { vote[j] += x[j] }
                case (.frequency, true):
                    for j in 0..<n {
                        let v = x[j]
                        vote[j] = 0 + (v > 0 ? 1 : (v < 0 ? -1 : 0))
                    }
                case (.frequency, false):
                    for j in 0..<n {
                        let v = x[j]
                        vote[j] += v > 0 ? 1 : (v < 0 ? -1 : 0)
                    }
                }
            }
            for (i, base) in bases.enumerated() {
                let w = weights[i], x = base + c0
                if i == 0 {
                    // 0 + a == a for a in {0, 1}; the sum starts from +0 as before.
                    for j in 0..<n {
                        let v = x[j]
                        let agrees: Float = (vote[j] >= 0 ? v > 0 : v < 0) ? 1 : 0
                        o[j] = 0 + agrees * (w * v)
                        count[j] = agrees
                    }
                } else {
                    for j in 0..<n {
                        let v = x[j]
                        let agrees: Float = (vote[j] >= 0 ? v > 0 : v < 0) ? 1 : 0
                        o[j] += agrees * (w * v)
                        count[j] += agrees
                    }
                }
                if i == last {
                    for j in 0..<n { o[j] /= max(count[j], 1) }
                }
            }
            c0 += n
        }
    }
}

/// DARE: keep each entry with probability `density` and divide the kept ones by `density`.
struct DAREMask: Sendable {
    let rng: CounterRNG
    let density: Float

    /// Masks `block`, whose first entry is element `start` of the whole tensor (row-major). Element i is kept when
    /// the top 24 bits of ``CounterRNG/bits(_:)`` at i, as a float, are below density · 2^24 (both exact), and is
    /// then divided by the density (multiplied by its float reciprocal). The kernel is C (`quiver_dare_mask`):
    /// with AVX-512 it mixes sixteen 64-bit counters at once, which Swift's baseline x86-64 code cannot;
    /// `vectorized: false` takes its scalar form, the same bits.
    func apply(_ block: UnsafeMutableBufferPointer<Float>, start: Int, vectorized: Bool = true) {
        if density >= 1 { return }
        if density <= 0 {
            block.update(repeating: 0)
            return
        }
        guard let base = block.baseAddress else { return }
        quiver_dare_mask(base, block.count, rng.key, UInt64(truncatingIfNeeded: start), density * 0x1p24, 1 / density,
                         vectorized ? 1 : 0)
    }
}
