import Foundation
import QuiverCore

/// One column value of one row, in PostgreSQL's text format, with the column's name and type.
public struct PostgresCell: Sendable, Hashable {
    /// The value's text, or nil for SQL NULL.
    public let text: String?
    /// The column's type OID.
    public let typeOID: UInt32
    /// The column's name, for error messages.
    public let column: String

    /// The text, or a decoding error naming the column when the value is NULL.
    public func requireText() throws(PostgresError) -> String {
        guard let text else {
            throw PostgresError(.decoding, message: "column \"\(column)\" is NULL; decode an Optional to accept NULL")
        }
        return text
    }

    func mismatch(_ swiftType: Any.Type) -> PostgresError {
        let shown = (text ?? "NULL").prefix(80)
        return PostgresError(
            .decoding,
            message: "column \"\(column)\" (type oid \(typeOID)) value \"\(shown)\" is not a valid \(swiftType)"
        )
    }
}

/// A Swift type that a column value can be decoded into. Optional types accept NULL; the others reject it.
public protocol PostgresDecodable: Sendable {
    static func decode(from cell: PostgresCell) throws -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        cell.text == nil ? nil : try Wrapped.decode(from: cell)
    }
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> String { try cell.requireText() }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int {
        guard let value = Int(try cell.requireText()) else { throw cell.mismatch(Int.self) }
        return value
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int64 {
        guard let value = Int64(try cell.requireText()) else { throw cell.mismatch(Int64.self) }
        return value
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        guard let value = Int32(try cell.requireText()) else { throw cell.mismatch(Int32.self) }
        return value
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Double {
        let text = try cell.requireText()
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw cell.mismatch(Double.self) }
            return value
        }
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Bool {
        switch try cell.requireText() {
        // `t`/`f` is bool's output; `true`/`false` is `bool::text`, as nested rows (``PostgresRows/init(jsonRows:columns:)``) carry it.
        case "t", "true": return true
        case "f", "false": return false
        default: throw cell.mismatch(Bool.self)
        }
    }
}

extension Data: PostgresDecodable {
    /// Reads bytea's hex output (`\x0a1b…`), the default since PostgreSQL 9.0.
    public static func decode(from cell: PostgresCell) throws -> Data {
        Data(try [UInt8].decode(from: cell))
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// Byte arrays read bytea; other element types read a one-dimensional array (`{a,"b c",NULL}`).
    public static func decode(from cell: PostgresCell) throws -> [Element] {
        let text = try cell.requireText()
        if Element.self == UInt8.self {
            guard let bytes = Hex.decodeBytea(text) else { throw cell.mismatch([UInt8].self) }
            // The branch above proved Element is UInt8, so the cast cannot fail.
            return bytes as? [Element] ?? []
        }
        guard let items = PostgresArrayLiteral.parse(text) else { throw cell.mismatch([Element].self) }
        return try items.map { item in
            try Element.decode(from: PostgresCell(text: item, typeOID: 0, column: cell.column))
        }
    }
}

extension UInt8: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> UInt8 {
        guard let value = UInt8(try cell.requireText()) else { throw cell.mismatch(UInt8.self) }
        return value
    }
}

extension Date: PostgresDecodable {
    /// Reads `timestamptz` output as produced with the session's `DateStyle=ISO` and `TimeZone=UTC`.
    public static func decode(from cell: PostgresCell) throws -> Date {
        guard let date = PostgresTimestamp.parse(try cell.requireText()) else { throw cell.mismatch(Date.self) }
        return date
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> UUID {
        guard let uuid = UUID(uuidString: try cell.requireText()) else { throw cell.mismatch(UUID.self) }
        return uuid
    }
}

enum Hex {
    static func decodeBytea(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        var out = [UInt8]()
        out.reserveCapacity((utf8.count - 2) / 2)
        var i = 2
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension SHA256Digest: PostgresDecodable {
    /// Reads the 64 hex characters stored by the `PostgresEncodable` conformance.
    public static func decode(from cell: PostgresCell) throws -> SHA256Digest {
        guard let digest = SHA256Digest(hex: try cell.requireText()) else { throw cell.mismatch(SHA256Digest.self) }
        return digest
    }
}
