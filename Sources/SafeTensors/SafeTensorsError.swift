import QuiverCore

/// Why a safetensors file was refused or could not be written.
///
/// Equality compares the ``Kind`` only, so tests can match on what went wrong whatever the details.
public struct SafeTensorsError: NamedError, Equatable {
    /// What went wrong; the raw value is the stable code suffix.
    public enum Kind: String, Sendable, CaseIterable {
        case fileUnreadable = "file_unreadable"
        case fileTooSmall = "file_too_small"
        case headerTooLarge = "header_too_large"
        case headerBeyondFile = "header_beyond_file"
        case malformedJSON = "malformed_json"
        case duplicateKey = "duplicate_key"
        case invalidTensorEntry = "invalid_tensor_entry"
        case unknownDType = "unknown_dtype"
        case invalidShape = "invalid_shape"
        case invalidOffsets = "invalid_offsets"
        case shapeOverflow = "shape_overflow"
        case sizeMismatch = "size_mismatch"
        case offsetsOutOfFile = "offsets_out_of_file"
        case overlappingTensors = "overlapping_tensors"
        case holeBetweenTensors = "hole_between_tensors"
        case trailingBytes = "trailing_bytes"
        case invalidMetadata = "invalid_metadata"
        case tensorNotFound = "tensor_not_found"
        case notFloat = "not_float"
        case invalidTensorToWrite = "invalid_tensor_to_write"
        case writeFailed = "write_failed"
    }

    public let kind: Kind
    /// The file involved (last path component or full path).
    public let file: String
    /// The tensor involved, when one is.
    public let tensor: String?
    /// The specific problem, with the numbers that show it.
    public let detail: String

    public init(_ kind: Kind, file: String, tensor: String? = nil, _ detail: String) {
        self.kind = kind
        self.file = file
        self.tensor = tensor
        self.detail = detail
    }

    public var code: String { "safetensors.\(kind.rawValue)" }

    public var errorKind: ErrorKind {
        switch kind {
        case .writeFailed: .unavailable
        case .invalidTensorToWrite: .internal
        default: .invalidInput
        }
    }

    public var reason: String {
        let place = tensor.map { "\(file), tensor '\($0)'" } ?? file
        return "\(place): \(detail)"
    }

    public var hint: String {
        switch kind {
        case .fileUnreadable: "check that the path exists and is readable"
        case .tensorNotFound: "list the file's tensors with `quiver inspect`"
        case .notFloat: "only F64, F32, F16 and BF16 tensors convert to Float32"
        case .invalidTensorToWrite, .writeFailed: ""
        default: "the file is not a valid safetensors file; re-export it with the `safetensors` library"
        }
    }

    public static func == (lhs: SafeTensorsError, rhs: SafeTensorsError) -> Bool { lhs.kind == rhs.kind }
}
