/// The validated content of a safetensors header: a pure function of the header bytes and the data length, so it
/// can be tested and fuzzed without files.
public struct SafeTensorsHeader: Sendable, Equatable {
    /// Headers longer than this are refused, like the reference implementation's `MAX_HEADER_SIZE`.
    public static let maximumHeaderLength = 100_000_000

    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Tensors in data-offset order.
    public let tensors: [TensorInfo]

    /// Parses and validates a header.
    ///
    /// - Parameters:
    ///   - header: the JSON bytes (after the 8-byte length, including any trailing space padding).
    ///   - dataLength: the number of bytes in the file after the header; the tensors must tile it exactly.
    ///   - file: the file's name, for error messages.
    public static func parse(_ header: some Collection<UInt8>, dataLength: Int, file: String) throws(SafeTensorsError) -> SafeTensorsHeader {
        let root: JSONValue
        do {
            root = try StrictJSONParser.parse(header)
        } catch {
            switch error {
            case let .syntax(offset, message):
                throw SafeTensorsError(.malformedJSON, file: file, "header JSON is malformed at byte \(offset): \(message)")
            case let .duplicateKey(offset, key):
                throw SafeTensorsError(.duplicateKey, file: file, tensor: key, "key '\(key)' appears more than once in the header (byte \(offset))")
            }
        }
        guard case let .object(members) = root else {
            throw SafeTensorsError(.malformedJSON, file: file, "header must be a JSON object, found \(root.typeName)")
        }
        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, file: file)
            } else {
                tensors.append(try parseTensor(name: name, value, file: file))
            }
        }
        try validateLayout(&tensors, dataLength: dataLength, file: file)
        return SafeTensorsHeader(metadata: metadata, tensors: tensors)
    }

    /// Validates a whole file's bytes: the 8-byte little-endian header length, the header, and the tensor layout.
    /// - Returns: the header and the offset where tensor data starts.
    public static func parseFile(_ bytes: UnsafeRawBufferPointer, file: String) throws(SafeTensorsError) -> (SafeTensorsHeader, dataStart: Int) {
        guard bytes.count >= 8 else {
            throw SafeTensorsError(.fileTooSmall, file: file, "the file has \(bytes.count) bytes, fewer than the 8-byte header length")
        }
        var length: UInt64 = 0
        for offset in (0..<8).reversed() { length = length << 8 | UInt64(bytes[offset]) }
        guard length <= UInt64(maximumHeaderLength) else {
            throw SafeTensorsError(.headerTooLarge, file: file, "header length \(length) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw SafeTensorsError(.headerBeyondFile, file: file, "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let header = try parse(
            UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)]), dataLength: bytes.count - 8 - headerLength, file: file)
        return (header, 8 + headerLength)
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws(SafeTensorsError) -> [String: String] {
        guard case let .object(members) = value else {
            throw SafeTensorsError(.invalidMetadata, file: file, "__metadata__ must be an object of strings, found \(value.typeName)")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard case let .string(text) = entry else {
                throw SafeTensorsError(.invalidMetadata, file: file, "__metadata__ value for '\(key)' must be a string, found \(entry.typeName)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseTensor(name: String, _ value: JSONValue, file: String) throws(SafeTensorsError) -> TensorInfo {
        guard case let .object(fields) = value else {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "entry must be an object, found \(value.typeName)")
        }
        for (key, _) in fields where !["dtype", "shape", "data_offsets"].contains(key) {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "unexpected field '\(key)' (allowed: dtype, shape, data_offsets)")
        }
        guard let dtypeValue = value["dtype"] else {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "missing field 'dtype'")
        }
        guard case let .string(dtypeName) = dtypeValue else {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "'dtype' must be a string, found \(dtypeValue.typeName)")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError(.unknownDType, file: file, tensor: name, "unknown dtype '\(dtypeName)' (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case let .array(shapeValues)? = value["shape"] else {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "missing or non-array field 'shape'")
        }
        var shape: [Int] = []
        for dimension in shapeValues {
            guard let size = dimension.nonNegativeInteger else {
                throw SafeTensorsError(.invalidShape, file: file, tensor: name, "shape entries must be non-negative integers, found \(describe(dimension))")
            }
            shape.append(size)
        }
        guard case let .array(offsetValues)? = value["data_offsets"] else {
            throw SafeTensorsError(.invalidTensorEntry, file: file, tensor: name, "missing or non-array field 'data_offsets'")
        }
        guard offsetValues.count == 2 else {
            throw SafeTensorsError(.invalidOffsets, file: file, tensor: name, "data_offsets must have exactly 2 entries, found \(offsetValues.count)")
        }
        guard let begin = offsetValues[0].nonNegativeInteger, let end = offsetValues[1].nonNegativeInteger else {
            throw SafeTensorsError(.invalidOffsets, file: file, tensor: name, "data_offsets must be non-negative integers, found [\(describe(offsetValues[0])), \(describe(offsetValues[1]))]")
        }
        guard begin <= end else {
            throw SafeTensorsError(.invalidOffsets, file: file, tensor: name, "data_offsets begin \(begin) is after end \(end)")
        }
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw SafeTensorsError(.shapeOverflow, file: file, tensor: name, "shape \(shape) has more elements than fit in 64 bits")
            }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw SafeTensorsError(.shapeOverflow, file: file, tensor: name, "shape \(shape) of \(dtype) needs more bytes than fit in 64 bits")
        }
        guard bytes == end - begin else {
            throw SafeTensorsError(.sizeMismatch, file: file, tensor: name, "shape \(shape) of \(dtype) needs \(bytes) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case let .number(text): text
        case let .string(text): "\"\(text)\""
        default: value.typeName
        }
    }

    /// The tensors must tile `0..<dataLength` exactly: no byte outside the file, shared or left unused.
    private static func validateLayout(_ tensors: inout [TensorInfo], dataLength: Int, file: String) throws(SafeTensorsError) {
        for tensor in tensors where tensor.dataOffsets.upperBound > dataLength {
            throw SafeTensorsError(.offsetsOutOfFile, file: file, tensor: tensor.name, "data_offsets end \(tensor.dataOffsets.upperBound) is beyond the \(dataLength) data bytes in the file")
        }
        tensors.sort { a, b in
            if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound { return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound }
            if a.dataOffsets.upperBound != b.dataOffsets.upperBound { return a.dataOffsets.upperBound < b.dataOffsets.upperBound }
            return a.name.unicodeScalars.lexicographicallyPrecedes(b.name.unicodeScalars)
        }
        var position = 0
        var previous: String?
        for tensor in tensors {
            if tensor.dataOffsets.lowerBound > position {
                throw SafeTensorsError(.holeBetweenTensors, file: file, tensor: tensor.name, "bytes \(position)..<\(tensor.dataOffsets.lowerBound) before this tensor belong to no tensor")
            }
            if tensor.dataOffsets.lowerBound < position {
                throw SafeTensorsError(.overlappingTensors, file: file, tensor: tensor.name, "data_offsets start at \(tensor.dataOffsets.lowerBound), inside the bytes of '\(previous ?? "?")' which end at \(position)")
            }
            position = tensor.dataOffsets.upperBound
            previous = tensor.name
        }
        if position < dataLength {
            throw SafeTensorsError(.trailingBytes, file: file, "\(dataLength - position) bytes after the last tensor's data belong to no tensor")
        }
    }
}
