import Foundation
import Merge
import ObjectStore
import QuiverCore
import Registry

/// Parsers for option values, shared by the commands' `validate()` and `run()`: `validate()` calls them first so a
/// malformed value stops the command before it opens anything, and `run()` calls them again to get the value.
enum OptionParsing {
    /// Repeated `key=value` options as a dictionary.
    static func tags(_ items: [String]) throws -> [String: String] {
        var tags: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw OptionError("invalid_tag", "a tag is key=value, got '\(item)'", hint: "write e.g. --tag team=nlp")
            }
            tags[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        try TagRules.validate(tags)
        return tags
    }

    /// A sha256 digest: 64 hex characters, optionally prefixed `sha256/` (the blob key) or `sha256:`.
    static func digest(_ text: String) throws -> SHA256Digest {
        var hex = Substring(text)
        for prefix in [BlobKey.folder, "sha256:"] where hex.hasPrefix(prefix) { hex = hex.dropFirst(prefix.count) }
        guard let digest = SHA256Digest(hex: String(hex)) else {
            throw OptionError("invalid_digest", "'\(text)' is not a sha256 digest", hint: "write 64 hex characters, optionally prefixed sha256/")
        }
        return digest
    }

    /// A hex prefix of digests (`blob ls`), possibly empty.
    static func hexPrefix(_ text: String) throws -> String {
        guard text.count <= 64, text.lowercased().allSatisfy(\.isHexDigit) else {
            throw OptionError("invalid_digest", "'\(text)' is not a prefix of a sha256 digest", hint: "write up to 64 hex characters")
        }
        return text.lowercased()
    }

    /// Durations such as `90s`, `30m`, `24h` (the registry's `GraceDuration` syntax), in seconds.
    static func seconds(_ text: String) throws -> Int64 {
        try GraceDuration.seconds(text)
    }

    /// Comma-separated merge weights; each must be a finite number.
    static func weights(_ text: String) throws -> [Double] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let value = Double(trimmed), value.isFinite else {
                throw MergeError(.badParameter, "weight '\(trimmed)' is not a finite number", hint: "use e.g. --weights 0.7,0.3")
            }
            return value
        }
    }

    /// A positive count (`--threads`, `--concurrency`).
    static func positive(_ value: Int?, _ option: String) throws {
        if let value, value < 1 {
            throw OptionError("invalid_option", "--\(option) must be at least 1, got \(value)")
        }
    }

    /// A blob-store location that can be checked without opening it: an `s3://` URL's bucket and prefix.
    static func blobStore(_ text: String?) throws {
        guard let text, text.hasPrefix("s3://") else { return }
        _ = try S3Settings.parse(url: text)
    }

    /// Adapter references (`NAME`, `NAME@VERSION`, `NAME@ALIAS`, a sha256).
    static func references(_ texts: [String]) throws -> [AdapterRef] {
        try texts.map(AdapterRef.parse)
    }

    /// `NAME@ALIAS`'s alias part, checked by the registry's reference syntax.
    static func alias(_ alias: String, of name: String) throws {
        guard case .alias = try AdapterRef.parse("\(name)@\(alias)") else {
            throw OptionError("invalid_alias", "'\(alias)' is not an alias: a number names a version",
                              hint: "an alias is up to 64 letters, digits, '_' or '-', starting with a letter")
        }
    }

    /// A size in bytes: a whole number with an optional unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`, or `K`, `M`, `G`, `T`
    /// for the same binary multiples), e.g. `512MiB`, `8G`, `1048576`.
    static func bytes(_ text: String, option: String) throws -> Int64 {
        let units: [(String, Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
                                        ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let (digits, multiplier) = units.first { trimmed.hasSuffix($0.0) }.map { (String(trimmed.dropLast($0.0.count)), $0.1) } ?? (trimmed, 1)
        guard let value = Int64(digits), value >= 0, value <= Int64.max / multiplier else {
            throw OptionError("invalid_option", "--\(option) '\(text)' is not a size", hint: "write e.g. 512MiB, 8GiB or a number of bytes")
        }
        return value * multiplier
    }
}
