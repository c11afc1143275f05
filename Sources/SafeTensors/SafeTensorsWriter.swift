import Foundation
import QuiverCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files the way the reference `safetensors` library does, so files Quiver writes are
/// byte-identical to PEFT's when the tensors and order are the same.
public enum SafeTensorsWriter {
    /// Writes `tensors` to `url`: header padded with spaces to a multiple of 8 bytes, tensors laid out in the order
    /// given, atomically (a temporary file in the same directory, renamed over `url`).
    ///
    /// `__metadata__` is written first with keys sorted, and omitted when `metadata` is empty. With `synchronize`
    /// the file is flushed to the disk (`fsync`) before the rename; without, it is left to the page cache, as `cp`
    /// and the reference library leave theirs (a scratch file about to be uploaded gains nothing from a flush).
    public static func write(_ tensors: [TensorToWrite], metadata: [String: String], to url: URL, synchronize: Bool = false) throws {
        let file = url.lastPathComponent
        let header = try headerBytes(tensors, metadata: metadata, file: file)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(file).tmp-\(UUID().uuidString)")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw SafeTensorsError(.writeFailed, file: file, "cannot create \(temporary.path): \(String(cString: strerror(errno)))")
        }
        do {
            defer { close(descriptor) }
            let output = DescriptorWriter(descriptor: descriptor, file: file, path: url.path)
            try header.withUnsafeBytes { try output.write($0) }
            var buffer: [UInt8] = []
            for tensor in tensors {
                switch tensor.payload {
                case let .raw(bytes):
                    try bytes.withUnsafeBytes { try output.write($0) }
                case let .floats(values) where tensor.dtype == .F32 && FloatConversion.isLittleEndian:
                    // Float32 in memory is already the stored little-endian form: written straight from the values.
                    try values.withUnsafeBytes { try output.write($0) }
                case let .floats(values):
                    // Converted in slices so a large tensor never needs a second full-size buffer.
                    var start = 0
                    let chunk = 1 << 20
                    while start < values.count {
                        let end = min(start + chunk, values.count)
                        buffer.removeAll(keepingCapacity: true)
                        FloatConversion.append(values[start..<end], as: tensor.dtype, to: &buffer)
                        try buffer.withUnsafeBytes { try output.write($0) }
                        start = end
                    }
                }
            }
            guard !synchronize || fsync(descriptor) == 0 else {
                throw SafeTensorsError(.writeFailed, file: file, "writing \(url.path) failed: fsync: \(String(cString: strerror(errno)))")
            }
            try AtomicFile.rename(temporary, over: url)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? SafeTensorsError { throw error }
            throw SafeTensorsError(.writeFailed, file: file, "writing \(url.path) failed: \(error)")
        }
    }

    /// The 8-byte length prefix plus the padded JSON header for `tensors`, after validating them.
    public static func headerBytes(_ tensors: [TensorToWrite], metadata: [String: String], file: String = "<memory>") throws -> [UInt8] {
        for tensor in tensors { try validate(tensor, file: file) }
        return try headerBytes(layout: tensors.map { TensorLayout(name: $0.name, shape: $0.shape, dtype: $0.dtype, byteCount: $0.byteCount) },
                               metadata: metadata, file: file)
    }

    /// The header for tensors described by their layout alone, in the order given (offsets follow that order).
    static func headerBytes(layout tensors: [TensorLayout], metadata: [String: String], file: String) throws -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            json.append(contentsOf: Array(#""__metadata__":{"#.utf8))
            for (position, key) in metadata.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }).enumerated() {
                if position > 0 { json.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key] ?? "", to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var seen = Set<String>()
        var offset = 0
        for tensor in tensors {
            guard seen.insert(tensor.name).inserted else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: tensor.name, "two tensors have this name")
            }
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            appendJSONString(tensor.name, to: &json)
            let end = offset + tensor.byteCount
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            json.append(contentsOf: Array(#":{"dtype":"\#(tensor.dtype.rawValue)","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#.utf8))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        let padding = (8 - json.count % 8) % 8
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        var output: [UInt8] = []
        output.reserveCapacity(8 + json.count)
        FloatConversion.appendLittleEndian(UInt64(json.count), to: &output)
        output.append(contentsOf: json)
        return output
    }

    /// `tensors` in the reference writer's layout order: descending dtype (its enum order), then name.
    /// PEFT's `save_pretrained` goes through that writer, so this is the order of every PEFT-written file.
    public static func referenceOrder(_ tensors: [TensorToWrite]) -> [TensorToWrite] {
        tensors.sorted { referencePrecedes(($0.dtype, $0.name), ($1.dtype, $1.name)) }
    }

    static func referencePrecedes(_ a: (dtype: DType, name: String), _ b: (dtype: DType, name: String)) -> Bool {
        if a.dtype.referenceRank != b.dtype.referenceRank { return a.dtype.referenceRank > b.dtype.referenceRank }
        return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
    }

    private static func validate(_ tensor: TensorToWrite, file: String) throws {
        let elements = try elementCount(name: tensor.name, shape: tensor.shape, file: file)
        switch tensor.payload {
        case let .floats(values):
            guard tensor.dtype.isConvertibleToFloat else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: tensor.name, "Float32 values cannot be stored as \(tensor.dtype); pass raw bytes")
            }
            guard values.count == elements else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: tensor.name, "shape \(tensor.shape) has \(elements) elements but \(values.count) values were given")
            }
        case let .raw(bytes):
            guard bytes.count == elements * tensor.dtype.byteSize else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: tensor.name, "shape \(tensor.shape) of \(tensor.dtype) needs \(elements * tensor.dtype.byteSize) bytes but \(bytes.count) were given")
            }
        }
    }

    /// The element count of a tensor named `name` of `shape`; throws for an empty or reserved name, a negative
    /// dimension or a shape whose count overflows.
    static func elementCount(name: String, shape: [Int], file: String) throws -> Int {
        guard name != "__metadata__", !name.isEmpty else {
            throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "the name is empty or reserved")
        }
        var elements = 1
        for size in shape {
            guard size >= 0 else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "shape \(shape) has a negative dimension")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw SafeTensorsError(.invalidTensorToWrite, file: file, tensor: name, "shape \(shape) overflows")
            }
            elements = product
        }
        return elements
    }

    /// Appends `text` as a JSON string escaped like serde_json (the reference writer): `"`, `\`, and control
    /// characters only; everything else is raw UTF-8.
    public static func appendJSONString(_ text: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): json.append(contentsOf: [0x5C, 0x5C])
            case 0x08: json.append(contentsOf: Array(#"\b"#.utf8))
            case 0x0C: json.append(contentsOf: Array(#"\f"#.utf8))
            case 0x0A: json.append(contentsOf: Array(#"\n"#.utf8))
            case 0x0D: json.append(contentsOf: Array(#"\r"#.utf8))
            case 0x09: json.append(contentsOf: Array(#"\t"#.utf8))
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json.append(contentsOf: Array(#"\u00"#.utf8))
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0xF)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }
}

/// Whole buffers written to an open descriptor (``PositionalWrite``), a failure named as the writer's.
struct DescriptorWriter {
    let descriptor: Int32
    let file: String
    let path: String

    /// Writes all of `bytes` at the descriptor's position, or at `offset` in the file when one is given (then from
    /// any thread, for disjoint ranges).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) throws {
        do throws(PositionalWriteError) {
            try PositionalWrite.all(bytes, to: descriptor, at: offset.map(Int64.init))
        } catch {
            throw SafeTensorsError(.writeFailed, file: file, "writing \(path) failed: \(error.message)")
        }
    }
}
