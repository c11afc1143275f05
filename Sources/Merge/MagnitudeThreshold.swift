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

    /// The same threshold for a tensor held whole (a LoRA factor: 65,536–180,224 entries), by a three-level radix
    /// selection whose histograms are small (11, 11 and 9 bits of |x|): one counting pass over the tensor, one pass
    /// collecting the entries of the selected top-level bucket, then two passes over those few. The 16-bit
    /// histograms of the streaming version would cost more to clear and walk than such a tensor costs to scan.
    static func find(k: Int, in values: [Float]) -> MagnitudeThreshold {
        let numel = values.count
        if k >= numel { return MagnitudeThreshold(mode: .keepAll) }
        if k <= 0 { return MagnitudeThreshold(mode: .keepNone) }
        if numel >= 1 << 32 { return findStreaming(k: k, in: values) }  // counts are 32-bit below
        return values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return MagnitudeThreshold(mode: .keepAll) }
            let width = 1 << 11
            // Four interleaved histograms: LoRA factors crowd into a few buckets, and one histogram would make every
            // increment wait for the previous one to the same bucket.
            let counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 4 * width)
            defer { counts.deallocate() }
            counts.initialize(repeating: 0, count: 4 * width)
            @inline(__always) func top(_ x: Float) -> Int { Int((x.bitPattern & 0x7FFF_FFFF) &>> 20) }
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
            for x in buffer {
                let bits = x.bitPattern & 0x7FFF_FFFF
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
            let bits = (first << 20) | (second << 9) | third
            return MagnitudeThreshold(mode: .threshold(bits: bits, tiesToKeep: k - above), equalCount: low[Int(third)])
        }
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
