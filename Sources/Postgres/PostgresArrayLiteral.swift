/// Parses PostgreSQL's text output of a one-dimensional array: `{a,"b,c",NULL,"q\"x"}`.
enum PostgresArrayLiteral {
    /// The elements (nil for unquoted NULL), or nil when the text is not a one-dimensional array literal.
    /// Works on the UTF-8 bytes: every delimiter is ASCII, so a multi-byte character never looks like one.
    static func parse(_ text: String) -> [String?]? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> [String?]? {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // A lower bound decoration such as `[0:2]={…}` is not produced for our arrays; refuse it.
        guard bytes.count >= 2, bytes[0] == open, bytes[bytes.count - 1] == close else { return nil }
        let end = bytes.count - 1
        if end == 1 { return [] }
        var items: [String?] = []
        var i = 1
        while true {
            if i < end, bytes[i] == open { return nil }  // nested arrays are not supported
            if i < end, bytes[i] == quote {
                i += 1
                let start = i
                var escaped: [UInt8]?
                while i < end, bytes[i] != quote {
                    if bytes[i] == backslash {
                        if escaped == nil { escaped = Array(bytes[start..<i]) }
                        i += 1
                        guard i < end else { return nil }
                    }
                    escaped?.append(bytes[i])
                    i += 1
                }
                guard i < end else { return nil }
                items.append(escaped.map { String(decoding: $0, as: UTF8.self) }
                             ?? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
                i += 1
            } else {
                let start = i
                while i < end, bytes[i] != comma { i += 1 }
                let value = UnsafeBufferPointer(rebasing: bytes[start..<i])
                let isNull = value.count == 4 && value[0] == UInt8(ascii: "N") && value[1] == UInt8(ascii: "U")
                    && value[2] == UInt8(ascii: "L") && value[3] == UInt8(ascii: "L")
                items.append(isNull ? nil : String(decoding: value, as: UTF8.self))
            }
            if i == end { return items }
            guard bytes[i] == comma else { return nil }
            i += 1
        }
    }
}
