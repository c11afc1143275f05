/// A NaN or infinity found in a float tensor.
public struct NonFiniteValue: Sendable, Equatable {
    /// The tensor's name.
    public let tensor: String
    /// The element's flat (row-major) index.
    public let index: Int
    /// `NaN`, `+Inf` or `-Inf`.
    public let value: String

    public init(tensor: String, index: Int, value: String) {
        self.tensor = tensor
        self.index = index
        self.value = value
    }
}

extension SafeTensorsFile {
    /// The first NaN or infinity in the file's float tensors (F64, F32, F16, BF16), in tensor order, or nil.
    ///
    /// Reads the bits in place (no conversion, no copy) and releases each tensor's pages after scanning it, so a
    /// multi-gigabyte file does not stay resident.
    public func firstNonFinite() -> NonFiniteValue? {
        for tensor in tensors {
            let found: (index: Int, value: String)?
            switch tensor.dtype {
            case .F32: found = Self.scan(self, tensor, UInt32.self, exponent: 0x7F80_0000, mantissa: 0x007F_FFFF)
            case .BF16: found = Self.scan(self, tensor, UInt16.self, exponent: 0x7F80, mantissa: 0x007F)
            case .F16: found = Self.scan(self, tensor, UInt16.self, exponent: 0x7C00, mantissa: 0x03FF)
            case .F64: found = Self.scan(self, tensor, UInt64.self, exponent: 0x7FF0_0000_0000_0000, mantissa: 0x000F_FFFF_FFFF_FFFF)
            default: found = nil
            }
            releasePages(of: tensor.name)
            if let found { return NonFiniteValue(tensor: tensor.name, index: found.index, value: found.value) }
        }
        return nil
    }

    /// Finds the first element whose exponent bits are all set (NaN or ±Inf), checking 4,096 elements at a time
    /// (``containsNonFinite(_:dtype:)``'s branch-free test) and looking element by element only inside a block
    /// that has one.
    private static func scan<Bits: FixedWidthInteger & UnsignedInteger>(
        _ file: SafeTensorsFile, _ tensor: TensorInfo, _: Bits.Type, exponent: Bits, mantissa: Bits
    ) -> (index: Int, value: String)? {
        (try? file.withRawBytes(tensor.name) { raw -> (index: Int, value: String)? in
            let stride = MemoryLayout<Bits>.size
            let count = raw.count / stride
            let block = 4096
            var start = 0
            while start < count {
                let end = min(start + block, count)
                if anyExponentAllSet(UnsafeRawBufferPointer(rebasing: raw[(start * stride)..<(end * stride)]), Bits.self, exponent: exponent) {
                    for i in start..<end {
                        let bits = raw.loadUnaligned(fromByteOffset: i * stride, as: Bits.self)
                        guard bits & exponent == exponent else { continue }
                        let sign = bits >> (Bits.bitWidth - 1) == 1 ? "-" : "+"
                        return (i, bits & mantissa != 0 ? "NaN" : "\(sign)Inf")
                    }
                }
                start = end
            }
            return nil
        }) ?? nil
    }

    /// Whether `raw`, whole elements of a `dtype` tensor, holds a NaN or an infinity (false for a dtype that is not
    /// a float). A branch-free pass that vectorizes, for checking bytes already in the cache while they are hashed
    /// (``firstNonFinite()`` then says where).
    public static func containsNonFinite(_ raw: UnsafeRawBufferPointer, dtype: DType) -> Bool {
        switch dtype {
        case .F32: anyExponentAllSet(raw, UInt32.self, exponent: 0x7F80_0000)
        case .BF16: anyExponentAllSet(raw, UInt16.self, exponent: 0x7F80)
        case .F16: anyExponentAllSet(raw, UInt16.self, exponent: 0x7C00)
        case .F64: anyExponentAllSet(raw, UInt64.self, exponent: 0x7FF0_0000_0000_0000)
        default: false
        }
    }

    private static func anyExponentAllSet<Bits: FixedWidthInteger & UnsignedInteger>(
        _ raw: UnsafeRawBufferPointer, _: Bits.Type, exponent: Bits
    ) -> Bool {
        let stride = MemoryLayout<Bits>.size
        var hits: Bits = 0
        for i in 0..<(raw.count / stride) {
            hits |= (raw.loadUnaligned(fromByteOffset: i * stride, as: Bits.self) & exponent) == exponent ? 1 : 0
        }
        return hits != 0
    }
}
