import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a tensor goes in a safetensors file: its name, shape and stored dtype, and its size in bytes.
public struct TensorLayout: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let dtype: DType
    public let byteCount: Int

    /// A tensor of `shape` stored as `dtype`; nil when the name is empty or reserved, a dimension is negative or
    /// the size overflows (what ``SafeTensorsWriter`` refuses).
    public init?(name: String, shape: [Int], dtype: DType) {
        guard let elements = try? SafeTensorsWriter.elementCount(name: name, shape: shape, file: "") else { return nil }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { return nil }
        self.init(name: name, shape: shape, dtype: dtype, byteCount: bytes)
    }

    init(name: String, shape: [Int], dtype: DType, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.byteCount = byteCount
    }
}

/// A safetensors file written in place: its layout is fixed first, each tensor is written at its offset as soon as
/// it is ready (from any thread: `pwrite(2)` at disjoint offsets), and the header last, when the metadata is final.
/// The file is the one ``SafeTensorsWriter/write(_:metadata:to:synchronize:)`` writes for the same tensors and
/// metadata, byte for byte, and appears atomically (a temporary file renamed over the target by ``finish``).
///
/// The header's length is fixed with the layout, so the final metadata must encode to the same length as the
/// metadata given then (a digest written where a placeholder of the same length stood); ``finish`` refuses
/// anything else rather than shift the data. A merge streams its modules here instead of holding every merged
/// module until the end.
public final class SafeTensorsInPlaceWriter: @unchecked Sendable {
    // @unchecked: every stored property is a `let` set in init, and `pwrite` to disjoint ranges is thread-safe.
    public let url: URL
    private let temporary: URL
    private let descriptor: Int32
    private let output: DescriptorWriter
    private let file: String
    private let headerCount: Int
    private let offsets: [String: (start: Int, layout: TensorLayout)]
    private let layout: [TensorLayout]
    private let closed = Atomic<Bool>(false)

    /// Creates the temporary file for `tensors` laid out in the reference order (as ``SafeTensorsWriter``
    /// lays them out for PEFT), with a header sized for `metadata`.
    public init(url: URL, tensors: [TensorLayout], metadata: [String: String]) throws {
        self.url = url
        file = url.lastPathComponent
        // Layouts are valid by construction (``TensorLayout/init(name:shape:dtype:)``); duplicates are refused below.
        let ordered = tensors.sorted { SafeTensorsWriter.referencePrecedes(($0.dtype, $0.name), ($1.dtype, $1.name)) }
        headerCount = try SafeTensorsWriter.headerBytes(layout: ordered, metadata: metadata, file: file).count
        var offsets: [String: (start: Int, layout: TensorLayout)] = [:]
        var offset = headerCount
        for tensor in ordered {
            offsets[tensor.name] = (offset, tensor)
            offset += tensor.byteCount
        }
        self.offsets = offsets
        temporary = url.deletingLastPathComponent().appendingPathComponent(".\(file).tmp-\(UUID().uuidString)")
        descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw SafeTensorsError(.writeFailed, file: file, "cannot create \(temporary.path): \(String(cString: strerror(errno)))")
        }
        output = DescriptorWriter(descriptor: descriptor, file: file, path: url.path)
        layout = ordered
    }

    /// Writes tensor `name`'s Float32 values (stored as F32, BF16, F16 or F64 as its layout says).
    public func write(_ name: String, values: [Float]) throws {
        guard let (start, tensor) = offsets[name] else {
            throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "not in the file's layout")
        }
        guard values.count * tensor.dtype.byteSize == tensor.byteCount, tensor.dtype.isConvertibleToFloat else {
            throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "\(values.count) values do not fill shape \(tensor.shape) of \(tensor.dtype)")
        }
        if tensor.dtype == .F32 && FloatConversion.isLittleEndian {
            try values.withUnsafeBytes { try output.write($0, at: start) }
            return
        }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(tensor.byteCount)
        FloatConversion.append(values, as: tensor.dtype, to: &encoded)
        try encoded.withUnsafeBytes { try output.write($0, at: start) }
    }

    /// Writes tensor `name`'s bytes, already encoded as its dtype.
    public func write(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        guard let (start, tensor) = offsets[name] else {
            throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "not in the file's layout")
        }
        guard bytes.count == tensor.byteCount else {
            throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "\(bytes.count) bytes do not fill shape \(tensor.shape) of \(tensor.dtype)")
        }
        try output.write(bytes, at: start)
    }

    /// Writes the header with the final `metadata` (its padded length must be the one fixed at init), flushes the file when
    /// asked, and renames it over `url`. Every tensor must have been written (the caller's bookkeeping; a tensor
    /// left out would read as zeros).
    public func finish(metadata: [String: String], synchronize: Bool) throws {
        let header = try SafeTensorsWriter.headerBytes(layout: layout, metadata: metadata, file: file)
        guard header.count == headerCount else {
            throw SafeTensorsError(.writeFailed, file: file, "the final header (\(header.count) bytes) does not fit the \(headerCount) bytes laid out for it")
        }
        try header.withUnsafeBytes { try output.write($0, at: 0) }
        guard !synchronize || fsync(descriptor) == 0 else {
            throw SafeTensorsError(.writeFailed, file: file, "writing \(url.path) failed: fsync: \(String(cString: strerror(errno)))")
        }
        closeOnce()
        try AtomicFile.rename(temporary, over: url)
    }

    /// Removes the temporary file unless ``finish`` renamed it (the write is abandoned; nothing appears at `url`).
    public func abandon() {
        closeOnce()
        unlink(temporary.path)
    }

    private func closeOnce() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { close(descriptor) }
    }

    deinit { closeOnce() }
}
