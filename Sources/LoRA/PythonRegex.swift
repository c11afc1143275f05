import Foundation

/// The few Python `re` operations PEFT applies to module names, via ICU (whose syntax agrees with Python's for
/// the identifiers, dots, classes and quantifiers such patterns use).
enum PythonRegex {
    /// `re.fullmatch(pattern, text) is not None`; nil when the pattern does not compile.
    static func fullMatch(_ pattern: String, _ text: String) -> Bool? {
        firstGroups("^(?:\(pattern))$", text).map { $0 != nil }
    }

    /// Whether `pattern` compiles.
    static func isValid(_ pattern: String) -> Bool {
        (try? NSRegularExpression(pattern: "(?:\(pattern))")) != nil
    }

    /// PEFT's `get_pattern_key` test: `re.match(rf"(.*\.)?({key})$", modulePath)`.
    static func patternKeyMatches(_ key: String, _ modulePath: String) -> Bool {
        (firstGroups("^(.*\\.)?(\(key))$", modulePath) ?? nil) != nil
    }

    /// The capture groups of the first match of `pattern` in `text` (anchored by the pattern itself); the outer
    /// optional is nil when the pattern does not compile, the inner when nothing matches.
    static func firstGroups(_ pattern: String, _ text: String) -> [String?]?? {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        guard let match = expression.firstMatch(in: text, options: [.anchored], range: range) else { return .some(nil) }
        var groups: [String?] = []
        for index in 0..<match.numberOfRanges {
            let groupRange = match.range(at: index)
            groups.append(groupRange.location == NSNotFound ? nil : Range(groupRange, in: text).map { String(text[$0]) })
        }
        return .some(groups)
    }

    /// PEFT's layer index for `layers_to_transform`: the number after the layers container, i.e. the last
    /// `.<name>.<digits>.` in the path (or `.<pattern>.<digits>.` for each of `layersPattern`).
    static func layerIndex(_ modulePath: String, layersPattern: [String]?) -> Int? {
        let patterns = (layersPattern?.isEmpty ?? true) ? ["[^.]*"] : layersPattern ?? []
        for pattern in patterns {
            if case let .some(.some(groups)) = firstGroups(".*\\.\(pattern)\\.(\\d+)\\.", modulePath),
               let last = groups.last, let text = last, let index = Int(text) {
                return index
            }
        }
        return nil
    }
}
