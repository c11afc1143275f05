import QuiverCore

/// What a version's tags may hold: a bounded number of short, printable `key=value` pairs (the API document's
/// limits: the CLI and the server apply this one rule). Tags are printed by
/// `list`/`show` and sent by the API, so control characters (a terminal's ESC) and unbounded sizes are refused at
/// the door rather than escaped at every exit.
public enum TagRules {
    public static let maxCount = 64
    public static let maxKeyLength = 128
    public static let maxValueLength = 256

    /// Throws `registry.invalid_tag` (invalid input) naming the first rule a tag breaks.
    public static func validate(_ tags: [String: String]) throws(RegistryError) {
        func refuse(_ why: String) -> RegistryError {
            RegistryError(.invalidInput, code: "registry.invalid_tag", reason: why,
                          hint: "tags are up to \(maxCount) key=value pairs of printable text (keys up to \(maxKeyLength) characters, values up to \(maxValueLength))")
        }
        guard tags.count <= maxCount else { throw refuse("\(tags.count) tags, more than \(maxCount)") }
        for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
            let shownKey = TerminalText.escape(String(key.prefix(40)))
            guard !key.isEmpty, key.count <= maxKeyLength else { throw refuse("tag key '\(shownKey)' is empty or longer than \(maxKeyLength) characters") }
            guard !key.contains("=") else { throw refuse("tag key '\(shownKey)' contains '='") }
            guard value.count <= maxValueLength else { throw refuse("the value of tag '\(shownKey)' is longer than \(maxValueLength) characters") }
            guard !TerminalText.hasControlCharacters(key), !TerminalText.hasControlCharacters(value) else {
                throw refuse("tag '\(shownKey)' contains control characters")
            }
        }
    }
}
