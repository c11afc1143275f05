import CMergeKernels

extension MagnitudeThreshold {
    /// Samples below this size are too small to bracket the threshold usefully.
    static let minimumSample = 1024

    /// The same threshold as `find(k:numel:forEachBlock:)`, usually in ONE streaming pass instead of two.
    ///
    /// `sample` holds values drawn uniformly at random from the tensor (or close approximations of them): their
    /// order statistics bracket the k-th largest |x| with a margin of six standard deviations. The pass counts
    /// the entries above the bracket and keeps those inside it, and the exact threshold is selected among the
    /// kept ones. The bracket is verified by the counts, so the result is exact whatever the sample; when it
    /// misses (probability ~1e-9 for a genuine random sample), the two-pass radix selection runs instead.
    static func find(
        k: Int, numel: Int, sample: [Float], forEachBlock: ((UnsafeBufferPointer<Float>) -> Void) -> Void
    ) -> MagnitudeThreshold {
        if k >= numel { return MagnitudeThreshold(mode: .keepAll) }
        if k <= 0 { return MagnitudeThreshold(mode: .keepNone) }
        guard sample.count >= minimumSample, let (low, high) = bracket(k: k, numel: numel, sample: sample),
              let found = find(k: k, low: low, high: high, forEachBlock: forEachBlock) else {
            return find(k: k, numel: numel, forEachBlock: forEachBlock)
        }
        return found
    }

    /// The exact threshold when the k-th largest |x| lies in [low, high] (bit patterns of |x|): one pass counts
    /// the entries above `high` and keeps those inside the bracket, then the threshold is selected among the kept
    /// ones. nil when the counts show the bracket missed it.
    static func find(
        k: Int, low: UInt32, high: UInt32, forEachBlock: ((UnsafeBufferPointer<Float>) -> Void) -> Void
    ) -> MagnitudeThreshold? {
        var above = 0
        var inside: [UInt32] = []
        var scratch: [UInt32] = []
        forEachBlock { block in above &+= scan(block, low: low, high: high, into: &inside, scratch: &scratch) }
        let needed = k - above
        guard needed > 0, needed <= inside.count, inside.count < 1 << 32 else { return nil }
        // Every entry equal to the threshold lies in the bracket, so `equal` counts all of them.
        let found = inside.withUnsafeBufferPointer { radixSelect(k: needed, bits: $0) }
        return MagnitudeThreshold(mode: .threshold(bits: found.bits, tiesToKeep: needed - found.greater), equalCount: found.equal)
    }

    /// Counts the entries of `block` whose |x| bits exceed `high` and appends those in [low, high] to `inside`, by
    /// `quiver_bracket_scan` (CMergeKernels): without branches, and with AVX-512 sixteen entries at a time, the kept
    /// ones compressed into place. `scratch` holds them on the way, kept by the caller across blocks (grown here
    /// when a block is larger). `vectorized: false` takes the scalar form.
    static func scan(_ block: UnsafeBufferPointer<Float>, low: UInt32, high: UInt32, into inside: inout [UInt32],
                     scratch: inout [UInt32], vectorized: Bool = true) -> Int {
        guard let base = block.baseAddress, !block.isEmpty else { return 0 }
        let n = block.count
        if scratch.count < n + 16 { scratch = [UInt32](repeating: 0, count: n + 16) }  // the kernel stores 16 at a time
        var above = 0
        scratch.withUnsafeMutableBufferPointer { slots in
            guard let slot = slots.baseAddress else { return }
            let found = quiver_bracket_scan(base, n, low, high, slot, &above, vectorized ? 1 : 0)
            inside.append(contentsOf: UnsafeBufferPointer(start: slot, count: found))
        }
        return above
    }

    /// Bit patterns (of |x|) bracketing the k-th largest |x| of `numel` entries, from a random sample, at
    /// `sigmas` standard deviations either side of its expected rank in the sample; nil when the bracket would
    /// cover the whole range (nothing to gain over the two-pass selection).
    static func bracket(k: Int, numel: Int, sample: [Float], sigmas: Double = 6) -> (low: UInt32, high: UInt32)? {
        bracket(k: k, numel: numel, magnitudes: sample.map { $0.bitPattern & 0x7FFF_FFFF }, sigmas: sigmas)
    }

    /// The same from the sample's |x| bit patterns.
    static func bracket(k: Int, numel: Int, magnitudes: [UInt32], sigmas: Double) -> (low: UInt32, high: UInt32)? {
        let n = magnitudes.count
        let p = Double(k) / Double(numel)
        let margin = Int((sigmas * (Double(n) * p * (1 - p)).squareRoot()).rounded(.up)) + 8
        let center = Int((p * Double(n)).rounded())
        let highIndex = center - margin, lowIndex = center + margin
        if highIndex < 0 && lowIndex >= n { return nil }
        // Two order statistics by radix selection, not a sort of the whole sample (which took a per cent of a
        // dense-SVD merge): the (i + 1)-th largest is what a descending sort holds at index i.
        return magnitudes.withUnsafeBufferPointer { values in
            (lowIndex >= n ? 0 : radixSelect(k: lowIndex + 1, bits: values).bits,
             highIndex < 0 ? UInt32.max : radixSelect(k: highIndex + 1, bits: values).bits)
        }
    }
}
