/// The k-th largest |x| of a tensor, found by radix selection on the float bit patterns in two streaming
/// passes, so a tensor produced block by block (a dense 4096x11008 delta) never has to exist whole.
///
/// Keeping exactly k entries, as PEFT's `topk` does: entries above the threshold are kept, and of the entries
/// equal to it only the first `tiesToKeep` in row-major order.
struct MagnitudeThreshold: Sendable, Equatable {
    enum Mode: Sendable, Equatable { case keepAll, keepNone, threshold(bits: UInt32, tiesToKeep: Int) }
    let mode: Mode
    /// How many entries equal the threshold (kept or not); when all of them are kept, masking needs no count.
    var equalCount = Int.max

    /// `k = floor(density · numel)` as PEFT computes it.
    static func keepCount(density: Double, numel: Int) -> Int {
        density >= 1 ? numel : max(0, Int(density * Double(numel)))
    }

    /// Finds the threshold for keeping `k` of `numel` entries; `forEachBlock` must present the same values in
    /// the same order every time it is called (it is called twice).
    static func find(
        k: Int, numel: Int, forEachBlock: ((UnsafeBufferPointer<Float>) -> Void) -> Void
    ) -> MagnitudeThreshold {
        if k >= numel { return MagnitudeThreshold(mode: .keepAll) }
        if k <= 0 { return MagnitudeThreshold(mode: .keepNone) }
        var high = [Int](repeating: 0, count: 1 << 16)
        high.withUnsafeMutableBufferPointer { histogram in
            forEachBlock { block in
                for x in block { histogram[Int(x.bitPattern & 0x7FFF_FFFF) &>> 16] &+= 1 }
            }
        }
        var above = 0
        let highBucket = Self.bucketHoldingKth(high, k: k, above: &above)
        var low = [Int](repeating: 0, count: 1 << 16)
        let target = UInt32(highBucket)
        low.withUnsafeMutableBufferPointer { histogram in
            forEachBlock { block in
                for x in block {
                    let bits = x.bitPattern & 0x7FFF_FFFF
                    if bits &>> 16 == target { histogram[Int(bits & 0xFFFF)] &+= 1 }
                }
            }
        }
        let lowBucket = Self.bucketHoldingKth(low, k: k, above: &above)
        let bits = (target << 16) | UInt32(lowBucket)
        return MagnitudeThreshold(mode: .threshold(bits: bits, tiesToKeep: k - above), equalCount: low[lowBucket])
    }

    /// Walks a 16-bit histogram from the top to the bucket that holds the k-th largest value, adding the counts of
    /// the buckets above it to `above`.
    static func bucketHoldingKth(_ histogram: [Int], k: Int, above: inout Int) -> Int {
        var bucket = histogram.count - 1
        while bucket > 0 && above + histogram[bucket] < k {
            above += histogram[bucket]
            bucket -= 1
        }
        return bucket
    }

    /// The same threshold for a tensor held whole (a LoRA factor: 65,536–180,224 entries).
    ///
    /// Above ``wholeSampleMinimum`` entries, usually by ONE vectorized pass: a fixed, well-spread sample of the
    /// tensor (a golden-ratio sequence of positions, so rows and columns are both covered) brackets the k-th
    /// largest |x|, the bracket scan (`quiver_bracket_scan`, AVX-512 where the CPU has it) counts the entries above
    /// the bracket and keeps the few inside it, and the exact threshold is selected among those. The counts verify
    /// the bracket, so the result is exact whatever the tensor; when the sample misleads (a tensor built to defeat
    /// it), the radix selection over the whole tensor runs instead. Below that size, or after a miss, the radix
    /// selection (``radixSelect(k:bits:)``) runs alone.
    static func find(k: Int, in values: [Float]) -> MagnitudeThreshold {
        let numel = values.count
        if k >= numel { return MagnitudeThreshold(mode: .keepAll) }
        if k <= 0 { return MagnitudeThreshold(mode: .keepNone) }
        if numel >= 1 << 32 { return findStreaming(k: k, in: values) }  // counts are 32-bit below
        return values.withUnsafeBufferPointer { floats in
            floats.withMemoryRebound(to: UInt32.self) { bits in
                if numel >= wholeSampleMinimum, let found = findBySample(k: k, floats: floats, bits: bits) {
                    return found
                }
                return findByRadix(k: k, bits: bits)
            }
        }
    }

    /// Tensors at least this large are bracketed by a sample first (the sample's fixed cost is then a few per
    /// cent of the scan it saves).
    static let wholeSampleMinimum = 16_384
    /// Entries in the sample of a whole tensor.
    static let wholeSampleSize = 2048

    /// The radix selection over the whole tensor (its |x| bit patterns).
    static func findByRadix(k: Int, bits: UnsafeBufferPointer<UInt32>) -> MagnitudeThreshold {
        let found = radixSelect(k: k, bits: bits)
        return MagnitudeThreshold(mode: .threshold(bits: found.bits, tiesToKeep: k - found.greater), equalCount: found.equal)
    }

    /// The sampled selection described at ``find(k:in:)``; nil when the bracket would not help or missed.
    static func findBySample(k: Int, floats: UnsafeBufferPointer<Float>, bits: UnsafeBufferPointer<UInt32>) -> MagnitudeThreshold? {
        let numel = bits.count, m = wholeSampleSize
        let sample = [UInt32](unsafeUninitializedCapacity: m) { slots, initialized in
            for i in 0..<m {
                // The fractional part of (i + 1)·φ, as 32 bits, scaled to a position.
                let fraction = (UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15) >> 32
                slots[i] = bits[Int((fraction &* UInt64(numel)) >> 32)] & 0x7FFF_FFFF
            }
            initialized = m
        }
        // 4.5 standard deviations: a genuine spread sample misses with probability ~1e-5, and a miss only costs the
        // radix selection.
        guard let (low, high) = bracket(k: k, numel: numel, magnitudes: sample, sigmas: 4.5) else { return nil }
        return find(k: k, low: low, high: high) { body in
            var start = 0
            while start < numel {  // blocks, so the scan's scratch stays small and in the cache
                let end = min(start + 16_384, numel)
                body(UnsafeBufferPointer(rebasing: floats[start..<end]))
                start = end
            }
        }
    }

    /// The k-th largest |x| (1 ≤ k ≤ count < 2^32) among bit patterns (the sign bit is ignored), how many are
    /// strictly greater and how many equal, by a three-level radix selection whose histograms are small (11, 11
    /// and 9 bits): one counting pass, one pass collecting the entries of the selected top-level bucket, then two
    /// passes over those few. The 16-bit histograms of the streaming version would cost more to clear and walk
    /// than a LoRA factor costs to scan.
    static func radixSelect(k: Int, bits values: UnsafeBufferPointer<UInt32>) -> (bits: UInt32, greater: Int, equal: Int) {
        let numel = values.count
        guard let base = values.baseAddress, numel > 0 else { return (0, 0, 0) }
        let width = 1 << 11
        // Four interleaved histograms: LoRA factors crowd into a few buckets, and one histogram would make every
        // increment wait for the previous one to the same bucket.
        let counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 4 * width)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 4 * width)
        @inline(__always) func top(_ x: UInt32) -> Int { Int((x & 0x7FFF_FFFF) &>> 20) }
        var j = 0
        while j + 4 <= numel {
            counts[top(base[j])] &+= 1
            counts[width + top(base[j + 1])] &+= 1
            counts[2 * width + top(base[j + 2])] &+= 1
            counts[3 * width + top(base[j + 3])] &+= 1
            j += 4
        }
        while j < numel {
            counts[top(base[j])] &+= 1
            j += 1
        }
        let histogram = (0..<width).map { Int(counts[$0]) + Int(counts[width + $0]) + Int(counts[2 * width + $0]) + Int(counts[3 * width + $0]) }
        var above = 0
        let first = UInt32(bucketHoldingKth(histogram, k: k, above: &above))
        // The entries of that bucket, gathered without branches: every entry is stored at the next free slot,
        // which advances only past the entries that belong (so the slot after the last one is written too).
        let candidates = UnsafeMutablePointer<UInt32>.allocate(capacity: histogram[Int(first)] + 1)
        defer { candidates.deallocate() }
        var found = 0
        for x in values {
            let bits = x & 0x7FFF_FFFF
            candidates[found] = bits
            // 1 exactly when the top bits equal `first` (d − 1 wraps to all ones only for d = 0), as arithmetic:
            // a comparison here becomes a branch that mispredicts on a fifth of the entries.
            found &+= Int(truncatingIfNeeded: ((bits &>> 20) ^ first) &- 1) &>> 31
        }
        var middle = [Int](repeating: 0, count: width)
        for i in 0..<found { middle[Int((candidates[i] &>> 9) & 0x7FF)] &+= 1 }
        let second = UInt32(bucketHoldingKth(middle, k: k, above: &above))
        var low = [Int](repeating: 0, count: 1 << 9)
        for i in 0..<found where (candidates[i] &>> 9) & 0x7FF == second { low[Int(candidates[i] & 0x1FF)] &+= 1 }
        let third = UInt32(bucketHoldingKth(low, k: k, above: &above))
        return ((first << 20) | (second << 9) | third, above, low[Int(third)])
    }

    /// The streaming two-pass selection on a tensor held whole (the reference for the radix selection above).
    static func findStreaming(k: Int, in values: [Float]) -> MagnitudeThreshold {
        values.withUnsafeBufferPointer { buffer in
            find(k: k, numel: values.count) { body in body(buffer) }
        }
    }
}

/// Applies a threshold block by block in row-major order, counting the ties kept so far.
struct MagnitudeMask {
    let threshold: MagnitudeThreshold
    private var tiesKept = 0

    init(_ threshold: MagnitudeThreshold) { self.threshold = threshold }

    /// Zeroes the entries the threshold drops.
    mutating func apply(_ block: UnsafeMutableBufferPointer<Float>) {
        switch threshold.mode {
        case .keepAll: return
        case .keepNone:
            block.update(repeating: 0)
        case let .threshold(bits, tiesToKeep):
            // Branch-free passes that vectorize: keep entries at or above the threshold (above it once the ties
            // to keep have run out) and count the ties; only the block where the ties run out needs the scalar
            // fix-up.
            guard let base = block.baseAddress else { return }
            let n = block.count
            let keepEqual = tiesKept < tiesToKeep
            let cut = keepEqual ? bits : bits + 1
            if threshold.equalCount <= tiesToKeep {
                // Every tie is kept (the usual case for continuous values): one select pass.
                for j in 0..<n { base[j] = base[j].bitPattern & 0x7FFF_FFFF >= bits ? base[j] : 0 }
                return
            }
            var equal = 0
            if keepEqual {
                var count: UInt32 = 0
                for j in 0..<n { count &+= base[j].bitPattern & 0x7FFF_FFFF == bits ? 1 : 0 }
                equal = Int(count)
            }
            for j in 0..<n { base[j] = base[j].bitPattern & 0x7FFF_FFFF >= cut ? base[j] : 0 }
            guard keepEqual else { return }
            if tiesKept + equal <= tiesToKeep {
                tiesKept += equal
                return
            }
            for j in block.indices where block[j].bitPattern & 0x7FFF_FFFF == bits {
                if tiesKept < tiesToKeep {
                    tiesKept += 1
                } else {
                    block[j] = 0
                }
            }
        }
    }
}
