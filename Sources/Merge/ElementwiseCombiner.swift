import CMergeKernels

/// Combines same-length blocks of the (already trimmed or DARE-masked, unweighted) tensors T_i into one block:
/// a weighted sum, or TIES' sign election and disjoint mean.
struct ElementwiseCombiner: Sendable {
    let rule: ElementwiseRule
    let weights: [Float]
    let majoritySign: MajoritySignMethod

    /// Entries a caller masks and combines at a time (``ModuleMerger`` copies chunks of this size, so the copies,
    /// the masks' passes and the combination stay in the L1/L2 cache).
    static let chunk = 4096

    /// Writes the combination of `inputs` (each `output.count` long) into `output`, which may be uninitialized.
    ///
    /// Entry by entry, every operation rounded on its own, in input order (`quiver_combine` in CMergeKernels, which
    /// spells out the formulas): a weighted sum `0 + w_0·x_0 + …` starting from +0 (so an all -0 sum is +0), or
    /// TIES' sign election (by total or by frequency) and the disjoint mean of the agreeing inputs. With AVX-512 the
    /// kernel takes sixteen entries at a time; `vectorized: false` takes its scalar form, the same bits.
    func combine(_ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>, vectorized: Bool = true) {
        let length = output.count
        guard let out = output.baseAddress, length > 0 else { return }
        let bases = inputs.compactMap(\.baseAddress)
        guard bases.count == inputs.count, !bases.isEmpty else {
            out.initialize(repeating: 0, count: length)
            return
        }
        let kernelRule: Int32 = switch (rule.electsSign, majoritySign) {
        case (false, _): Int32(QUIVER_COMBINE_SUM)
        case (true, .total): Int32(QUIVER_COMBINE_TIES_TOTAL)
        case (true, .frequency): Int32(QUIVER_COMBINE_TIES_FREQUENCY)
        }
        bases.map { Optional($0) }.withUnsafeBufferPointer { pointers in
            weights.withUnsafeBufferPointer { w in
                quiver_combine(pointers.baseAddress, w.baseAddress, bases.count, out, length, kernelRule, vectorized ? 1 : 0)
            }
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
