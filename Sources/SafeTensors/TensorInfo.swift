/// One tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    /// Dimensions in C order; `[]` is a scalar with one element.
    public let shape: [Int]
    /// Byte range relative to the start of the data buffer (just after the header).
    public let dataOffsets: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// The number of elements (product of the shape); validated not to overflow when read from a file.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The number of bytes the tensor occupies.
    public var byteCount: Int { dataOffsets.count }
}
