import SafeTensors

/// Serialises JSON exactly like Python's `json.dumps(value, indent=2, sort_keys=True)` (PEFT's
/// `save_pretrained`): 2-space indent, `", "`-free separators `","` + newline and `": "`, keys sorted by code
/// point, non-ASCII escaped as `\uXXXX`, empty containers as `{}` / `[]`, no final newline.
public enum PythonJSON {
    public static func dumps(_ value: JSONValue) -> String {
        var output = ""
        write(value, indent: 0, to: &output)
        return output
    }

    /// A Double as Python's `repr` writes it for the values configs hold (integral values as integers, since
    /// PEFT configs written from Python ints carry no fraction).
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func write(_ value: JSONValue, indent: Int, to output: inout String) {
        switch value {
        case .null: output += "null"
        case let .bool(flag): output += flag ? "true" : "false"
        case let .number(text): output += text
        case let .string(text): writeString(text, to: &output)
        case let .array(items):
            if items.isEmpty { output += "[]"; return }
            output += "[\n"
            for (position, item) in items.enumerated() {
                output += String(repeating: " ", count: indent + 2)
                write(item, indent: indent + 2, to: &output)
                output += position == items.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: " ", count: indent) + "]"
        case let .object(members):
            if members.isEmpty { output += "{}"; return }
            let sorted = members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            output += "{\n"
            for (position, member) in sorted.enumerated() {
                output += String(repeating: " ", count: indent + 2)
                writeString(member.key, to: &output)
                output += ": "
                write(member.value, indent: indent + 2, to: &output)
                output += position == sorted.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: " ", count: indent) + "}"
        }
    }

    private static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case " "..."~": output.unicodeScalars.append(scalar)
            default:
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        output += "\""
    }
}
