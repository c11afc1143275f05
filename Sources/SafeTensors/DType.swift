/// A tensor element type as spelled in a safetensors header.
///
/// Only byte-sized element types are modelled; the sub-byte formats (F4, F6_*) are refused as unknown because
/// no LoRA adapter uses them and their packing rules differ.
public enum DType: String, Sendable, CaseIterable, Codable {
    case F64, F32, F16, BF16
    case F8_E4M3, F8_E5M2, F8_E8M0
    case I64, I32, I16, I8
    case U64, U32, U16, U8
    case C64
    case BOOL

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64, .C64: 8
        case .F32, .I32, .U32: 4
        case .F16, .BF16, .I16, .U16: 2
        case .F8_E4M3, .F8_E5M2, .F8_E8M0, .I8, .U8, .BOOL: 1
        }
    }

    /// Whether `SafeTensorsFile.floats(_:)` can convert this type to Float32.
    public var isConvertibleToFloat: Bool {
        switch self {
        case .F64, .F32, .F16, .BF16: true
        default: false
        }
    }

    /// Position in the reference implementation's `Dtype` enum; its writer lays tensors out by descending rank,
    /// then by name, and `SafeTensorsWriter.referenceOrder` reproduces that.
    var referenceRank: Int {
        switch self {
        case .BOOL: 0
        case .U8: 4
        case .I8: 5
        case .F8_E5M2: 6
        case .F8_E4M3: 7
        case .F8_E8M0: 8
        case .I16: 11
        case .U16: 12
        case .F16: 13
        case .BF16: 14
        case .I32: 15
        case .U32: 16
        case .F32: 17
        case .C64: 18
        case .F64: 19
        case .I64: 20
        case .U64: 21
        }
    }
}
