import Foundation
import QuiverCore

/// One column value of one row, in PostgreSQL's text format, with the column's name and type.
///
/// The text stays in its result's buffer until a decoder asks for it: numbers, booleans, timestamps and arrays are
/// parsed from the bytes in place; a `String` is made only when the value is one.
public struct PostgresCell: Sendable, Hashable {
    /// The result the cell belongs to, and where the cell's text is in it.
    let buffer: ResultBuffer
    let span: CellSpan
    /// The cell's column in `buffer`.
    let columnIndex: Int

    @usableFromInline
    init(buffer: ResultBuffer, span: CellSpan, column: Int) {
        self.buffer = buffer
        self.span = span
        self.columnIndex = column
    }

    /// The column's type OID.
    public var typeOID: UInt32 { buffer.columnTypes[columnIndex] }
    /// The column's name, for error messages.
    public var column: String { buffer.columns[columnIndex] }

    /// A cell holding `text` (nil for SQL NULL), not read from a result.
    public init(text: String?, typeOID: UInt32, column: String) {
        var builder = CellTextBuilder()
        if var text {
            text.withUTF8 { builder.append($0) }
        } else {
            builder.appendNull()
        }
        self.init(buffer: ResultBuffer(columns: [column], columnTypes: [typeOID], text: builder.text, spans: builder.spans),
                  span: builder.spans[0], column: 0)
    }

    /// True for SQL NULL.
    public var isNull: Bool { span.count < 0 }

    /// The value's text, or nil for SQL NULL.
    public var text: String? {
        withUTF8 { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the value's UTF-8 bytes, in place; nil for SQL NULL.
    public func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        guard !isNull else { return nil }
        return try buffer.text.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[span.start ..< span.start + span.count]))
        }
    }

    /// The text, or a decoding error naming the column when the value is NULL.
    public func requireText() throws(PostgresError) -> String {
        try withRequiredUTF8 { String(decoding: $0, as: UTF8.self) }
    }

    /// `body` of the value's bytes, in place; a decoding error naming the column when the value is NULL.
    func withRequiredUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(PostgresError) -> R {
        guard let result = withUTF8(body) else {
            throw PostgresError(.decoding, message: "column \"\(column)\" is NULL; decode an Optional to accept NULL")
        }
        return result
    }

    /// `parse` of the value's bytes; a decoding error naming the column when the value is NULL or `parse` gives nil.
    func parse<T>(as type: T.Type, _ parse: (UnsafeBufferPointer<UInt8>) -> T?) throws(PostgresError) -> T {
        guard let value = try withRequiredUTF8(parse) else { throw mismatch(T.self) }
        return value
    }

    func mismatch(_ swiftType: Any.Type) -> PostgresError {
        let shown = (text ?? "NULL").prefix(80)
        return PostgresError(
            .decoding,
            message: "column \"\(column)\" (type oid \(typeOID)) value \"\(shown)\" is not a valid \(swiftType)"
        )
    }

    public static func == (a: PostgresCell, b: PostgresCell) -> Bool {
        a.text == b.text && a.typeOID == b.typeOID && a.column == b.column
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
        hasher.combine(typeOID)
        hasher.combine(column)
    }
}

/// A decimal integer as the server writes it (an optional sign, then digits), or nil when it is not one or does not
/// fit: what `T(String)` accepts, read from the bytes in place.
func parseInteger<T: FixedWidthInteger & SignedInteger>(_ bytes: UnsafeBufferPointer<UInt8>, as type: T.Type) -> T? {
    var index = 0
    var negative = false
    if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
        negative = first == UInt8(ascii: "-")
        index = 1
    }
    guard index < bytes.count else { return nil }
    if bytes.count - index <= 18 {
        // Below 10^18, the digits fit an Int64 without checking each step; then whether they fit T.
        var magnitude: Int64 = 0
        for position in index..<bytes.count {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            magnitude = magnitude &* 10 &+ Int64(digit)
        }
        return T(exactly: negative ? -magnitude : magnitude)
    }
    var value: T = 0
    while index < bytes.count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
        let (next, carry) = negative ? shifted.subtractingReportingOverflow(T(digit)) : shifted.addingReportingOverflow(T(digit))
        guard !overflow, !carry else { return nil }
        value = next
        index += 1
    }
    return value
}

/// A float as the server writes it (`1.5`, `-2e-07`, `NaN`, `Infinity`, `-Infinity`), or nil when it is not one:
/// what `Double(String)` accepts, read from the bytes in place (the whole text consumed).
func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
    guard let first = bytes.first else { return nil }
    // The server's spellings of the specials, looked for only when the text could be one (a number starts with a
    // digit, a sign or a point).
    if first == UInt8(ascii: "N") || first == UInt8(ascii: "I") || bytes.count == 9 {
        if bytes.elementsEqual("NaN".utf8) { return .nan }
        if bytes.elementsEqual("Infinity".utf8) { return .infinity }
        if bytes.elementsEqual("-Infinity".utf8) { return -.infinity }
    }
    if let value = exactDecimal(bytes) { return value }
    // strtod skips leading white space, which Double(String) refuses; a NUL inside would end the text early.
    guard first > 0x20, !bytes.contains(0) else { return nil }
    // strtod reads the decimal point of the C locale's numeric category, which this process never changes; should
    // anything have changed it, Double(String) reads the text instead.
    guard bytes.count < 128, localeconv()?.pointee.decimal_point?.pointee == CChar(UInt8(ascii: ".")) else {
        return Double(String(decoding: bytes, as: UTF8.self))
    }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer -> Double? in
        guard let base = buffer.baseAddress else { return nil }
        UnsafeMutableRawPointer(base).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        base[bytes.count] = 0
        var end: UnsafeMutablePointer<CChar>?
        let value = strtod(base, &end)
        guard let end, end == base + bytes.count else { return nil }
        return value
    }
}

/// `[-]digits[.digits]` with at most 15 significant digits and at most 22 after the point, the usual text of a
/// weight or a density, as the double nearest to it without strtod; nil for any other text. The digits make an
/// integer below 10^15, exact as a double, and so is 10^k for k ≤ 22; IEEE division rounds their quotient
/// correctly, so the result is the nearest double to the decimal, as strtod's (Clinger's fast path).
func exactDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
    var index = 0
    let negative = bytes.first == UInt8(ascii: "-")
    if negative { index = 1 }
    var mantissa: UInt64 = 0
    var digits = 0, significant = 0, fraction = 0
    var point = false
    while index < bytes.count {
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: "."), !point {
            point = true
            continue
        }
        let digit = byte &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        digits += 1
        if point { fraction += 1 }
        if mantissa != 0 || digit != 0 { significant += 1 }
        mantissa = mantissa &* 10 &+ UInt64(digit)
    }
    // Digits on at least one side of the point, and a point not last ("1." is strtod's, but never the server's).
    guard digits > 0, significant <= 15, fraction <= 22, bytes.last != UInt8(ascii: ".") else { return nil }
    let powers: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
                            1e17, 1e18, 1e19, 1e20, 1e21, 1e22]
    let magnitude = Double(mantissa) / powers[fraction]
    return negative ? -magnitude : magnitude
}

/// A Swift type that a column value can be decoded into. Optional types accept NULL; the others reject it.
public protocol PostgresDecodable: Sendable {
    static func decode(from cell: PostgresCell) throws -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    @inlinable
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        cell.isNull ? nil : try Wrapped.decode(from: cell)
    }
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> String { try cell.requireText() }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int {
        try cell.parse(as: Int.self) { parseInteger($0, as: Int.self) }
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int64 {
        try cell.parse(as: Int64.self) { parseInteger($0, as: Int64.self) }
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        try cell.parse(as: Int32.self) { parseInteger($0, as: Int32.self) }
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Double {
        try cell.parse(as: Double.self, parseDouble)
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Bool {
        // `t`/`f` is bool's output; `true`/`false` is `bool::text`, as nested rows (``PostgresRows/init(jsonRows:columns:)``) carry it.
        try cell.parse(as: Bool.self) { bytes in
            switch bytes.count {
            case 1: return bytes[0] == UInt8(ascii: "t") ? true : bytes[0] == UInt8(ascii: "f") ? false : nil
            case 4: return bytes.elementsEqual("true".utf8) ? true : nil
            case 5: return bytes.elementsEqual("false".utf8) ? false : nil
            default: return nil
            }
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
        if Element.self == UInt8.self {
            guard let bytes = Hex.decodeBytea(try cell.requireText()) else { throw cell.mismatch([UInt8].self) }
            // The branch above proved Element is UInt8, so the cast cannot fail.
            return bytes as? [Element] ?? []
        }
        guard let items = try cell.withRequiredUTF8(PostgresArrayLiteral.cells(of:)) else { throw cell.mismatch([Element].self) }
        if Element.self == String.self {
            // The common case made directly: each item's text a String, no cell for it.
            let strings = try items.text.withUnsafeBufferPointer { text in
                try items.spans.map { span throws(PostgresError) -> String in
                    guard span.count >= 0 else {
                        throw PostgresError(.decoding, message: "column \"\(cell.column)\" holds a NULL array item; decode [String?] to accept NULL")
                    }
                    return String(decoding: UnsafeBufferPointer(rebasing: text[span.start ..< span.start + span.count]), as: UTF8.self)
                }
            }
            // The branch proved Element is String; a conditional cast would copy the array element by element.
            return unsafeBitCast(strings, to: [Element].self)
        }
        let buffer = ResultBuffer(columns: [cell.column], columnTypes: [0], text: items.text, spans: [])
        return try items.spans.map { span in
            try Element.decode(from: PostgresCell(buffer: buffer, span: span, column: 0))
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
        try cell.parse(as: Date.self, PostgresTimestamp.parse(bytes:))
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
