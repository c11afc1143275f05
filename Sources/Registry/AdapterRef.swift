import Foundation
import QuiverCore

/// How a user names an adapter version on the command line or in the API.
///
/// `NAME` is the latest version, `NAME@3` a version number, `NAME@production` an alias, and a bare
/// 64-hex digest (optionally `sha256:`-prefixed) any version whose config, weights or canonical digest it is.
public enum AdapterRef: Hashable, Sendable, CustomStringConvertible {
    case latest(name: String)
    case version(name: String, number: Int)
    case alias(name: String, alias: String)
    case digest(SHA256Digest)

    /// Parses a reference, throwing `RegistryError.invalidReference` with the rule it broke.
    public static func parse(_ text: String) throws -> AdapterRef {
        let trimmed = trimmingBlanks(text)
        let bare = trimmed.hasPrefix("sha256:") ? String(trimmed.dropFirst("sha256:".count)) : trimmed
        if let digest = SHA256Digest(hex: bare) { return .digest(digest) }
        if trimmed.hasPrefix("sha256:") {
            throw RegistryError.invalidReference(text, why: "a sha256: reference needs exactly 64 hex characters")
        }
        let parts = trimmed.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        try validateName(name)
        guard parts.count == 2 else { return .latest(name: name) }
        let selector = parts[1]
        if let number = Int(selector) {
            guard number >= 1 else { throw RegistryError.invalidReference(text, why: "version numbers start at 1") }
            return .version(name: name, number: number)
        }
        try validateAlias(selector, in: text)
        return .alias(name: name, alias: selector)
    }

    /// `text` without the blanks (tabs and space separators, as `CharacterSet.whitespaces`) at either end; the text
    /// itself, without Foundation's character-set machinery, when it has none (the usual case).
    static func trimmingBlanks(_ text: String) -> String {
        func isBlank(_ scalar: Unicode.Scalar) -> Bool { scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        let scalars = text.unicodeScalars
        guard let first = scalars.first, let last = scalars.last, isBlank(first) || isBlank(last) else { return text }
        guard let start = scalars.firstIndex(where: { !isBlank($0) }), let end = scalars.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(scalars[start...end])
    }

    /// Adapter names: 1 to 128 ASCII letters, digits, `.`, `_`, `-` and `/`, each `/`-separated part starting with a
    /// letter or digit.
    public static func validateName(_ name: String) throws {
        guard let first = name.unicodeScalars.first, isAlphanumeric(first) else {
            throw RegistryError.invalidName(name, why: "a name starts with a letter or a digit")
        }
        guard name.unicodeScalars.count <= 128 else {
            throw RegistryError.invalidName(name, why: "a name has at most 128 characters")
        }
        guard name.unicodeScalars.allSatisfy({ isAlphanumeric($0) || "._-/".unicodeScalars.contains($0) }) else {
            throw RegistryError.invalidName(name, why: "a name may contain only letters, digits, '.', '_', '-' and '/'")
        }
        // Each '/'-separated part starts with a letter or a digit: no empty part ('a//b', 'a/'), and no '.' or '..'
        // part, so a name never reads as a path that climbs ('team/../other') wherever it is shown or used.
        let parts = name.unicodeScalars.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ $0.first.map(isAlphanumeric) ?? false }) else {
            throw RegistryError.invalidName(name, why: "each '/'-separated part of a name starts with a letter or a digit (no empty, '.' or '..' part)")
        }
    }

    static func validateAlias(_ alias: String, in text: String) throws {
        guard let first = alias.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
            alias.unicodeScalars.count <= 64,
            alias.unicodeScalars.allSatisfy({ isAlphanumeric($0) || "_-".unicodeScalars.contains($0) })
        else {
            throw RegistryError.invalidReference(
                text, why: "an alias is up to 64 letters, digits, '_' or '-', starting with a letter")
        }
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
    }

    public var description: String {
        switch self {
        case .latest(let name): name
        case .version(let name, let number): "\(name)@\(number)"
        case .alias(let name, let alias): "\(name)@\(alias)"
        case .digest(let digest): "sha256:\(digest.hex)"
        }
    }
}

extension AdapterRef {
    /// The catalog's form of the reference.
    var key: VersionKey {
        switch self {
        case .latest(let name): .latest(name: name)
        case .version(let name, let number): .version(name: name, number: number)
        case .alias(let name, let alias): .alias(name: name, alias: alias)
        case .digest(let digest): .digest(digest)
        }
    }
}
