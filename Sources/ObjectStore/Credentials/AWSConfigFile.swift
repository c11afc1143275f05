import Foundation

/// One AWS shared file (`~/.aws/config` or `~/.aws/credentials`), parsed the way the AWS CLI reads it.
///
/// INI: `[section]` headers, `key = value` (or `key: value`) settings, `#` and `;` comment lines, and comments
/// after a value when a space precedes the `#`/`;`. Keys are case-insensitive (kept lower-cased); section names
/// and values are kept as written, trimmed. An indented setting under a key with an empty value is a sub-setting
/// (`s3 =` then `  endpoint_url = …`), stored as `s3.endpoint_url`. A section that appears twice is merged, the
/// later value winning. Anything else (a setting outside a section, a line that is neither a header, a setting
/// nor a comment, an unclosed header) is an error naming the file and line, never the line's text, which may hold
/// a secret.
struct AWSConfigFile: Equatable {
    let path: String
    /// Section name → lower-cased key → value.
    var sections: [String: [String: String]]

    /// The file at `path`, or nil when it does not exist.
    static func load(path: String) throws -> AWSConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ObjectStoreError(.configuration, "cannot read the AWS file \(path)",
                                   hint: "check its permissions, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws -> AWSConfigFile {
        var sections: [String: [String: String]] = [:]
        var current: String?
        /// The last top-level key of the current section, and whether its value was empty (sub-settings follow).
        var parent: (key: String, empty: Bool)?
        func fail(_ line: Int, _ problem: String) -> ObjectStoreError {
            ObjectStoreError(.configuration, "\(path) line \(line): \(problem)",
                             hint: "fix the file (INI: [section] headers, key = value lines, # or ; comments)")
        }
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // Swift reads "\r\n" as one Character, a newline like "\n" and "\r".
        for (index, line) in body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else { throw fail(number, "a section header without ]") }
                let rest = stripComment(String(trimmed[trimmed.index(after: close)...]))
                guard rest.isEmpty else { throw fail(number, "text after a section header") }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else { throw fail(number, "an empty section name") }
                current = name
                parent = nil
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current else { throw fail(number, "a setting before any [section] header") }
            guard let delimiter = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw fail(number, "neither a [section] header, a key = value setting nor a comment")
            }
            let key = trimmed[..<delimiter].trimmingCharacters(in: .whitespaces).lowercased()
            let value = stripComment(String(trimmed[trimmed.index(after: delimiter)...]))
            guard !key.isEmpty else { throw fail(number, "a setting without a key") }
            let indented = line.first == " " || line.first == "\t"
            if indented, let parent, parent.empty {
                sections[section, default: [:]][parent.key + "." + key] = value
            } else {
                sections[section, default: [:]][key] = value
                parent = (key, value.isEmpty)
            }
        }
        return AWSConfigFile(path: path, sections: sections)
    }

    /// A value without a trailing ` # comment` / ` ; comment`, trimmed.
    private static func stripComment(_ value: String) -> String {
        var result = Substring(value)
        var previous: Character = " "
        for index in value.indices {
            let character = value[index]
            if (character == "#" || character == ";"), previous == " " || previous == "\t" {
                result = value[..<index]
                break
            }
            previous = character
        }
        return result.trimmingCharacters(in: .whitespaces)
    }

    /// The settings of profile `name` in a **config** file: `[profile name]`, and for `default` also `[default]`
    /// (`[profile default]` wins where both set a key). Nil when neither section exists.
    func configProfile(_ name: String) -> [String: String]? {
        var found: [String: String]?
        if name == "default", let plain = sections["default"] { found = plain }
        for (section, values) in sections {
            let words = section.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, words[0] == "profile", Self.unquote(words[1]) == name else { continue }
            found = (found ?? [:]).merging(values) { $1 }
        }
        return found
    }

    /// The settings of profile `name` in a **credentials** file: `[name]`.
    func credentialsProfile(_ name: String) -> [String: String]? { sections[name] }

    /// A `[services name]` section of a config file.
    func services(_ name: String) -> [String: String]? {
        sections.first { section, _ in
            let words = section.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return words.count == 2 && words[0] == "services" && Self.unquote(words[1]) == name
        }?.value
    }

    private static func unquote(_ word: Substring) -> Substring {
        word.count >= 2 && word.first == "\"" && word.last == "\"" ? word.dropFirst().dropLast() : word
    }
}
