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

    /// Convenience for a tensor held whole.
    static func find(k: Int, in values: [Float]) -> MagnitudeThreshold {
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
