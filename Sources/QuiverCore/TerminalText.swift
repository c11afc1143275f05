/// Text that came from users or files (tags, actors, base-model names) made safe to print on a terminal: control
/// characters, ESC above all, would otherwise let a tag rewrite the screen or hide a line.
public enum TerminalText {
    /// `text` with every control character (C0 but newline and tab, DEL, C1) shown as `\u{XX}`.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if isControl(scalar) && scalar != "\n" && scalar != "\t" {
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether `text` holds a control character (newline and tab included): such text is refused where a single
    /// line of printable text is expected (tag keys and values, base-model names).
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isControl)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
