/// Whether every value is finite, by the bits: a value is NaN or ±Inf exactly when its exponent bits are all set,
/// i.e. when adding one unit of exponent to them carries into the sign bit. Eight lanes at a time with AND, ADD
/// and OR only (no early exit, no compare), so the loop vectorizes on any x86-64 or arm64.
func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return true }
        let n = buffer.count
        let raw = UnsafeRawPointer(base)
        let exponent = SIMD8<UInt32>(repeating: 0x7F80_0000), unit = SIMD8<UInt32>(repeating: 0x0080_0000)
        var carries = SIMD8<UInt32>()
        var j = 0
        while j + 8 <= n {
            carries |= (raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<UInt32>.self) & exponent) &+ unit
            j += 8
        }
        var last: UInt32 = 0
        while j < n {
            last |= (base[j].bitPattern & 0x7F80_0000) &+ 0x0080_0000
            j += 1
        }
        return (last | (carries[0] | carries[1] | carries[2] | carries[3] | carries[4] | carries[5] | carries[6] | carries[7])) & 0x8000_0000 == 0
    }
}
