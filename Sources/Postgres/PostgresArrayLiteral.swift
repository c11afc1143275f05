/// Parses PostgreSQL's text output of a one-dimensional array: `{a,"b,c",NULL,"q\"x"}`.
enum PostgresArrayLiteral {
    /// The elements (nil for unquoted NULL), or nil when the text is not a one-dimensional array literal.
    static func parse(_ text: String) -> [String?]? {
        var chars = Array(text)[...]
        // A lower bound decoration such as `[0:2]={…}` is not produced for our arrays; refuse it.
        guard chars.first == "{", chars.last == "}" else { return nil }
        chars = chars.dropFirst().dropLast()
        if chars.isEmpty { return [] }
        var items: [String?] = []
        var i = chars.startIndex
        while true {
            if i < chars.endIndex, chars[i] == "{" { return nil }  // nested arrays are not supported
            if i < chars.endIndex, chars[i] == "\"" {
                var value = ""
                i += 1
                while i < chars.endIndex, chars[i] != "\"" {
                    if chars[i] == "\\" { i += 1; guard i < chars.endIndex else { return nil } }
                    value.append(chars[i])
                    i += 1
                }
                guard i < chars.endIndex else { return nil }
                i += 1
                items.append(value)
            } else {
                var value = ""
                while i < chars.endIndex, chars[i] != "," {
                    value.append(chars[i])
                    i += 1
                }
                items.append(value == "NULL" ? nil : value)
            }
            if i == chars.endIndex { return items }
            guard chars[i] == "," else { return nil }
            i += 1
        }
    }
}
