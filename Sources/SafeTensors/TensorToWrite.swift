/// One tensor to write: its name, shape, stored dtype, and either Float32 values converted on write or raw bytes
/// copied verbatim (for integer tensors and bit-exact copies).
public struct TensorToWrite: Sendable {
    /// What is stored: values converted on write, or bytes already in the target dtype.
    public enum Payload: Sendable {
        case floats([Float])
        case raw([UInt8])
    }

    public let name: String
    public let shape: [Int]
    public let dtype: DType
    public let payload: Payload

    /// Float32 values stored as `dtype` (F32, F16, BF16 or F64; BF16 rounds like PyTorch).
    public init(name: String, shape: [Int], values: [Float], dtype: DType = .F32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.payload = .floats(values)
    }

    /// Bytes already encoded as little-endian `dtype` elements, written unchanged.
    public init(name: String, shape: [Int], dtype: DType, rawBytes: [UInt8]) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.payload = .raw(rawBytes)
    }

    /// A bit-exact copy of a tensor from an open file.
    public init(copying name: String, from file: SafeTensorsFile) throws {
        guard let info = file.info(name) else {
            throw SafeTensorsError(.tensorNotFound, file: file.url.lastPathComponent, tensor: name, "no tensor with this name in the file")
        }
        self.init(name: name, shape: info.shape, dtype: info.dtype, rawBytes: try file.withRawBytes(name) { Array($0) })
    }

    /// Bytes this tensor occupies in the file.
    var byteCount: Int {
        switch payload {
        case let .floats(values): values.count * dtype.byteSize
        case let .raw(bytes): bytes.count
        }
    }
}
