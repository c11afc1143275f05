import Foundation

/// A JSON document sent as `jsonb` and read back from `json`/`jsonb` columns.
///
/// It keeps the JSON text; `init(encoding:)` and `decode(_:)` convert from and to `Codable` values.
public struct PostgresJSON: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    /// The JSON text (for values read back, as the server normalised it: jsonb reorders keys).
    public let text: String

    /// Wraps JSON text as is; the server validates it when the query runs.
    public init(text: String) {
        self.text = text
    }

    /// Encodes a value with sorted keys, so equal values give equal text.
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        self.text = String(decoding: data, as: UTF8.self)
    }

    /// Decodes the document into a `Decodable` type.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    public var postgresBind: PostgresBind { PostgresBind(typeOID: PostgresType.jsonb, text: text) }

    public static func decode(from cell: PostgresCell) throws -> PostgresJSON {
        PostgresJSON(text: try cell.requireText())
    }
}

extension Dictionary: PostgresDecodable where Key == String, Value == String {
    /// Reads a `json`/`jsonb` object whose values are all strings (such as tags) from the cell's bytes in place,
    /// without `JSONDecoder`, which costs tens of microseconds a call; anything else is a decoding error.
    public static func decode(from cell: PostgresCell) throws -> [String: String] {
        try cell.withRequiredUTF8 { bytes in Result { () throws(PostgresError) in try JSONTextReader.stringObject(bytes) } }.get()
    }
}
