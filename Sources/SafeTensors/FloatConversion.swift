/// Conversions between stored element types and Float32, bit-compatible with PyTorch.
public enum FloatConversion {
    /// Whether this machine stores numbers little-endian, as safetensors does (then F32 bytes need no conversion).
    public static let isLittleEndian = 1.littleEndian == 1

    /// Float32 to bfloat16 bits exactly as PyTorch's `round_to_nearest_even`: NaN becomes 0x7FC0, everything else
    /// rounds to nearest with ties to even (so overflow rounds to infinity, as in PyTorch).
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let rounding = UInt32(0x7FFF) &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// bfloat16 bits to Float32: exact, a 16-bit shift.
    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Decodes little-endian elements of `dtype` (F32, F16, BF16 or F64) into Float32.
    public static func floats(from bytes: UnsafeRawBufferPointer, dtype: DType) -> [Float] {
        let count = bytes.count / dtype.byteSize
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            switch dtype {
            case .F32:
                if count > 0, let base = output.baseAddress, let source = bytes.baseAddress {
                    UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: count * 4)
                }
            case .F16:
                for i in 0..<count {
                    output[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
                }
            case .BF16:
                for i in 0..<count {
                    output[i] = float(bfloat16Bits: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            case .F64:
                for i in 0..<count {
                    output[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                }
            default:
                for i in 0..<count { output[i] = 0 }
            }
            initialized = count
        }
    }

    /// Encodes Float32 values as little-endian `dtype` bytes (F32, F16, BF16 or F64) and appends them to `output`.
    public static func append(_ values: some Collection<Float>, as dtype: DType, to output: inout [UInt8]) {
        switch dtype {
        case .F32:
            for value in values { appendLittleEndian(value.bitPattern, to: &output) }
        case .F16:
            for value in values { appendLittleEndian(Float16(value).bitPattern, to: &output) }
        case .BF16:
            for value in values { appendLittleEndian(bfloat16Bits(value), to: &output) }
        case .F64:
            for value in values { appendLittleEndian(Double(value).bitPattern, to: &output) }
        default:
            break
        }
    }

    @inline(__always)
    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to output: inout [UInt8]) {
        var little = value.littleEndian
        withUnsafeBytes(of: &little) { output.append(contentsOf: $0) }
    }
}
