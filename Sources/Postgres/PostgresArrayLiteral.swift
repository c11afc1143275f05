/// Parses PostgreSQL's text output of a one-dimensional array: `{a,"b,c",NULL,"q\"x"}`.
enum PostgresArrayLiteral {
    /// The elements as cells of one buffer (a NULL span for unquoted NULL), as a result's cells are, so each is
    /// decoded by its element type's decoder in place; nil when the bytes are not a one-dimensional array literal.
    /// Works on the UTF-8 bytes: every delimiter is ASCII, so a multi-byte character never looks like one.
    static func cells(of bytes: UnsafeBufferPointer<UInt8>) -> CellTextBuilder? {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // A lower bound decoration such as `[0:2]={…}` is not produced for our arrays; refuse it.
        guard bytes.count >= 2, bytes[0] == open, bytes[bytes.count - 1] == close else { return nil }
        let end = bytes.count - 1
        var items = CellTextBuilder()
        if end == 1 { return items }
        items.text.reserveCapacity(bytes.count)
        var i = 1
        while true {
            if i < end, bytes[i] == open { return nil }  // nested arrays are not supported
            if i < end, bytes[i] == quote {
                i += 1
                let start = items.cellStart
                var run = i
                while i < end, bytes[i] != quote {
                    if bytes[i] == backslash {
                        // The escaped byte is kept; the backslash is dropped.
                        items.text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                        i += 1
                        guard i < end else { return nil }
                        run = i
                    }
                    i += 1
                }
                guard i < end else { return nil }
                items.text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                items.finish(from: start)
                i += 1
            } else {
                let start = i
                while i < end, bytes[i] != comma { i += 1 }
                let value = UnsafeBufferPointer(rebasing: bytes[start..<i])
                let isNull = value.count == 4 && value[0] == UInt8(ascii: "N") && value[1] == UInt8(ascii: "U")
                    && value[2] == UInt8(ascii: "L") && value[3] == UInt8(ascii: "L")
                if isNull { items.appendNull() } else { items.append(value) }
            }
            if i == end { return items }
            guard bytes[i] == comma else { return nil }
            i += 1
        }
    }
}
