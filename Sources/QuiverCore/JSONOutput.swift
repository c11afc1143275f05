import Foundation

/// The one JSON set-up for everything Quiver prints as JSON (`--json`, `policy show`, `job show`, error bodies):
/// pretty-printed, keys sorted, slashes not escaped (paths and `sha256/…` keys stay readable), dates in ISO 8601.
///
/// Sorted keys make the output stable, so it can be diffed and tested byte for byte.
public enum JSONOutput {
    /// A fresh encoder with the output settings (encoders are not shared: `JSONEncoder` is not `Sendable`).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// `value` as JSON text (no trailing newline).
    public static func string(_ value: some Encodable) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }
}
