import Foundation
import QuiverCore

/// A Swift value that can be sent as a query parameter.
public protocol PostgresEncodable: Sendable {
    /// The value as libpq sends it.
    var postgresBind: PostgresBind { get }
}

extension String: PostgresEncodable {
    /// Sent untyped so the server casts it to the column's type (text, varchar, uuid, enum…).
    public var postgresBind: PostgresBind { PostgresBind(typeOID: 0, text: self) }
}

extension Substring: PostgresEncodable {
    public var postgresBind: PostgresBind { String(self).postgresBind }
}

extension Int: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.int8, text: String(self)) }
}

extension Int64: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.int8, text: String(self)) }
}

extension Int32: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.int4, text: String(self)) }
}

extension Double: PostgresEncodable {
    /// Swift's shortest round-trip representation; `inf`/`nan` spelled as PostgreSQL reads them.
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.float8, text: postgresText) }

    fileprivate var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"
    }
}

extension Bool: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.bool, text: self ? "t" : "f") }
}

extension Data: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(bytea: [UInt8](self)) }
}

extension Date: PostgresEncodable {
    /// Sent as `timestamptz` in UTC with microsecond precision (PostgreSQL's resolution).
    public var postgresBind: PostgresBind {
        PostgresBind(typeOID: PostgresType.timestamptz, text: PostgresTimestamp.format(self))
    }
}

extension UUID: PostgresEncodable {
    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.uuid, text: uuidString.lowercased()) }
}

extension SHA256Digest: PostgresEncodable {
    /// Stored as its 64 lower-case hex characters.
    public var postgresBind: PostgresBind { hex.postgresBind }
}

/// An element type of a one-dimensional array parameter (`WHERE x = ANY(\(names))`).
public protocol PostgresArrayElement: Sendable {
    /// The OID of the array type (`text[]` is 1009).
    static var arrayTypeOID: UInt32 { get }
    /// The element as it appears inside an array literal, before quoting.
    var arrayLiteralElement: String { get }
}

extension String: PostgresArrayElement {
    public static var arrayTypeOID: UInt32 { PostgresType.textArray }
    public var arrayLiteralElement: String { self }
}

extension Int: PostgresArrayElement {
    public static var arrayTypeOID: UInt32 { PostgresType.int8Array }
    public var arrayLiteralElement: String { String(self) }
}

extension Double: PostgresArrayElement {
    public static var arrayTypeOID: UInt32 { PostgresType.float8Array }
    public var arrayLiteralElement: String { postgresText }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    /// Every element is double-quoted with `"` and `\` escaped, so commas, braces and `NULL` stay data.
    public var postgresBind: PostgresBind {
        let items = map { element -> String in
            var quoted = "\""
            for ch in element.arrayLiteralElement {
                if ch == "\"" || ch == "\\" { quoted.append("\\") }
                quoted.append(ch)
            }
            return quoted + "\""
        }
        return PostgresBind(typeOID: Element.arrayTypeOID, text: "{" + items.joined(separator: ",") + "}")
    }
}
