import Foundation
import QuiverCore

/// A memory-mapped, validated safetensors file. Tensors are views into the mapping, so opening a multi-gigabyte
/// file reads only its header; tensor bytes are paged in when a tensor is used.
public final class SafeTensorsFile: Sendable {
    /// The file's location.
    public let url: URL
    /// The `__metadata__` map (empty when the file has none).
    public let metadata: [String: String]
    /// Every tensor, in data-offset order.
    public let tensors: [TensorInfo]
    /// The size of the 8-byte length prefix plus the header, i.e. where tensor data starts.
    public let dataStart: Int
    private let mapping: MappedFile
    private let index: [String: Int]

    /// Maps and validates the file.
    /// - Throws: ``SafeTensorsError`` naming the file, the tensor and the problem.
    public init(contentsOf url: URL) throws {
        let name = url.lastPathComponent
        let mapping = try MappedFile(path: url.path, name: name)
        let (header, dataStart) = try SafeTensorsHeader.parseFile(mapping.bytes, file: name)
        self.url = url
        self.mapping = mapping
        self.metadata = header.metadata
        self.tensors = header.tensors
        self.dataStart = dataStart
        self.index = Dictionary(header.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The size of the file in bytes.
    public var fileSize: Int { mapping.count }

    /// The device and inode of the file mapped (a lease on the path must be on this file: ``FileLease``).
    public var fileIdentity: FileIdentity { mapping.identity }

    /// The entry of the tensor named `name`, if any.
    public func info(_ name: String) -> TensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// Calls `body` with the tensor's bytes inside the mapping; the pointer must not escape `body`.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let tensor = info(name) else {
            throw SafeTensorsError(.tensorNotFound, file: url.lastPathComponent, tensor: name, "no tensor with this name in the file")
        }
        let start = dataStart + tensor.dataOffsets.lowerBound
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + tensor.byteCount)]))
    }

    /// Calls `body` with the whole mapped file (header included), e.g. to hash it without copying.
    public func withFileBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(mapping.bytes)
    }

    /// Feeds the bytes of `range` (file offsets) to `body` in chunks, releasing each chunk's pages afterwards so
    /// hashing a multi-gigabyte file does not grow resident memory by the file's size.
    public func streamBytes(_ range: Range<Int>, chunkSize: Int = 32 << 20, _ body: (UnsafeRawBufferPointer) -> Void) {
        let all = mapping.bytes
        let clamped = range.clamped(to: 0..<all.count)
        var start = clamped.lowerBound
        while start < clamped.upperBound {
            let end = min(start + max(chunkSize, 1), clamped.upperBound)
            body(UnsafeRawBufferPointer(rebasing: all[start..<end]))
            mapping.releasePages(start..<end)
            start = end
        }
    }

    /// Drops this process's resident pages of tensor `name` (e.g. after copying its values out), so reading
    /// every tensor of a large file once does not leave the whole file resident. Later reads fault the pages
    /// back in from the page cache; the mapping is read-only, so the values never change. No-op for an unknown
    /// name.
    public func releasePages(of name: String) {
        guard let tensor = info(name) else { return }
        mapping.releasePages(fileRange(of: tensor))
    }

    /// The file offsets of a tensor's bytes (``dataStart`` plus its data offsets).
    public func fileRange(of tensor: TensorInfo) -> Range<Int> {
        (dataStart + tensor.dataOffsets.lowerBound)..<(dataStart + tensor.dataOffsets.upperBound)
    }

    /// The tensor's values converted to Float32 (F32 copied, F16/BF16 widened exactly, F64 rounded to nearest).
    public func floats(_ name: String) throws -> [Float] {
        guard let tensor = info(name) else {
            throw SafeTensorsError(.tensorNotFound, file: url.lastPathComponent, tensor: name, "no tensor with this name in the file")
        }
        guard tensor.dtype.isConvertibleToFloat else {
            throw SafeTensorsError(.notFloat, file: url.lastPathComponent, tensor: name, "dtype \(tensor.dtype) is not a floating-point type")
        }
        return try withRawBytes(name) { FloatConversion.floats(from: $0, dtype: tensor.dtype) }
    }
}
