/// Text from users or the catalog (adapter names, tags, actors, merge parameters) made safe inside HTML or SVG
/// markup, as element content and as a quoted attribute value alike: no such text can open a tag, close an
/// attribute or start an entity.
public enum MarkupText {
    /// `text` with `&`, `<`, `>`, `"` and `'` as character references, and every control character but tab and
    /// newline (which XML 1.0 forbids even as a reference) as U+FFFD.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\n", "\t": result.unicodeScalars.append(scalar)
            default:
                if TerminalText.isControl(scalar) || (0xFFFE...0xFFFF).contains(scalar.value) {
                    result.unicodeScalars.append("\u{FFFD}")
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
