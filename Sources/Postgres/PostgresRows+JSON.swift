extension PostgresRows {
    /// Rows that one statement returned inside a single column, so that several result sets can come back in one
    /// round trip: a JSON array of rows, each a JSON array of the row's values as text (or null), as
    /// `json_agg(json_build_array(a::text, b::text, …))` builds them. Each value is the column's text output (as
    /// in an ordinary result, under the connection's fixed `DateStyle` and `extra_float_digits`), so the usual
    /// decoders read it; `columns` names the values in order. A NULL column (`json_agg` of no rows) is no rows.
    /// The cell's text is read in place: no `String` is made of it.
    public init(jsonRows cell: PostgresCell, columns: [String]) throws(PostgresError) {
        let parsed = cell.withUTF8 { bytes in
            Result { () throws(PostgresError) in
                var parser = JSONTextReader(bytes: bytes)
                return try parser.rows(width: columns.count)
            }
        }
        self.init(jsonRows: try parsed?.get() ?? CellTextBuilder(), columns: columns)
    }

    private init(jsonRows cells: CellTextBuilder, columns: [String]) {
        let count = columns.isEmpty ? 0 : cells.spans.count / columns.count
        self.init(columns: columns, columnTypes: Array(repeating: 0, count: columns.count), affectedRows: count,
                  text: cells.text, spans: cells.spans, rowCount: count)
    }
}

/// Reads the two JSON shapes the catalog's reads return in bulk, and nothing else: an array of arrays whose items
/// are strings or `null` (nested rows), and an object whose values are strings (tags). Strings are RFC 8259's, every
/// escape included; anything else is a decoding error. Foundation's `JSONDecoder` would do, at several times the
/// cost: on an audit's few thousand values it was half the time of the whole call.
struct JSONTextReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Where decoded string values are written, and how many bytes so far: a buffer of at least `bytes.count`
    /// bytes, which the decoded text never outgrows (no escape decodes to more bytes than it is written with).
    private var out: UnsafeMutablePointer<UInt8>?
    private var written = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The rows' values one after another, each row exactly `width` values (else a decoding error), gathered into
    /// one buffer.
    mutating func rows(width: Int) throws(PostgresError) -> CellTextBuilder {
        var spans: [CellSpan] = []
        spans.reserveCapacity(bytes.count / 16)
        var failure: PostgresError?
        let text = [UInt8](unsafeUninitializedCapacity: max(bytes.count, 1)) { buffer, count in
            out = buffer.baseAddress
            written = 0
            do throws(PostgresError) {
                try rows(width: width, into: &spans)
            } catch {
                failure = error
            }
            count = written
            out = nil
        }
        if let failure { throw failure }
        return CellTextBuilder(text: text, spans: spans)
    }

    private mutating func rows(width: Int, into spans: inout [CellSpan]) throws(PostgresError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if peek() == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                let before = spans.count
                try row(into: &spans)
                let found = spans.count - before
                guard found == width else {
                    throw PostgresError(.decoding, message: "a nested row has \(found) values for \(width) columns")
                }
                if try separatorOrEnd() { break }
            }
        }
        skipSpace()
        guard index == bytes.count else { throw failure("text after the outer array") }
    }

    /// `{"key": "value", …}` read from `bytes`; each string is decoded into one scratch buffer, then made a `String`.
    static func stringObject(_ bytes: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> [String: String] {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(bytes.count, 1)) { (scratch) throws(PostgresError) in
            var reader = JSONTextReader(bytes: bytes)
            reader.out = scratch.baseAddress
            return try reader.stringObject()
        }
    }

    private mutating func stringObject() throws(PostgresError) -> [String: String] {
        // Each pair has four quotes (a quote inside a string adds to the count, so this only ever overestimates):
        // reserved so that the table is not grown pair by pair.
        var quotes = 0
        for byte in bytes where byte == UInt8(ascii: "\"") { quotes += 1 }
        var object = [String: String](minimumCapacity: quotes / 4)
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipSpace()
                guard peek() == UInt8(ascii: "\""), let key = try string() else { throw failure("expected a string key") }
                try expect(UInt8(ascii: ":"))
                skipSpace()
                guard peek() == UInt8(ascii: "\""), let text = try string() else { throw failure("expected a string value") }
                object[key] = text
                skipSpace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                break
            }
        }
        skipSpace()
        guard index == bytes.count else { throw failure("text after the object") }
        return object
    }

    /// One nested row's values, their spans appended to `spans`.
    private mutating func row(into spans: inout [CellSpan]) throws(PostgresError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipSpace()
            let start = written
            spans.append(try value() ? CellSpan(start: start, count: written - start) : .null)
            if try separatorOrEnd() { return }
        }
    }

    /// After an item: true at `]` (consumed), false at `,` (consumed).
    @inline(__always)
    private mutating func separatorOrEnd() throws(PostgresError) -> Bool {
        skipSpace()
        switch peek() {
        case UInt8(ascii: ","): index += 1; skipSpace(); return false
        case UInt8(ascii: "]"): index += 1; return true
        default: throw failure("expected ',' or ']'")
        }
    }

    /// A string value, or nil for `null` (decoded into the output buffer, which it then leaves free for the next).
    private mutating func string() throws(PostgresError) -> String? {
        written = 0
        guard try value(), let out else { return nil }
        return String(decoding: UnsafeBufferPointer(start: out, count: written), as: UTF8.self)
    }

    /// A string value's bytes written to the output (the runs between escapes copied whole, each escape decoded);
    /// false for `null`, with nothing written.
    private mutating func value() throws(PostgresError) -> Bool {
        if peek() == UInt8(ascii: "n") {
            guard index + 4 <= bytes.count, bytes[index + 1] == UInt8(ascii: "u"), bytes[index + 2] == UInt8(ascii: "l"),
                  bytes[index + 3] == UInt8(ascii: "l") else { throw failure("expected null") }
            index += 4
            return false
        }
        try expect(UInt8(ascii: "\""))
        // The input is not empty here (a quote was just read), so it has a base address, as has the output.
        guard let source = bytes.baseAddress, let out else { throw failure("no output buffer") }
        while true {
            let run = index
            index = Self.special(in: bytes, from: index)
            (out + written).initialize(from: source + run, count: index - run)
            written += index - run
            guard index < bytes.count else { throw failure("unterminated string") }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return true
            case UInt8(ascii: "\\"):
                index += 1
                try unescape(into: out)
            default:
                throw failure("control character in a string")
            }
        }
    }

    /// One escape's character (the backslash consumed), written as UTF-8.
    private mutating func unescape(into out: UnsafeMutablePointer<UInt8>) throws(PostgresError) {
        guard index < bytes.count else { throw failure("unterminated string") }
        let escape = bytes[index]
        index += 1
        func put(_ byte: UInt8) {
            out[written] = byte
            written += 1
        }
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): put(escape)
        case UInt8(ascii: "b"): put(0x08)
        case UInt8(ascii: "f"): put(0x0C)
        case UInt8(ascii: "n"): put(0x0A)
        case UInt8(ascii: "r"): put(0x0D)
        case UInt8(ascii: "t"): put(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("unpaired surrogate")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw failure("unpaired surrogate")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("bad \\u escape") }
            // At most four bytes, from an escape of six (or twelve, for a surrogate pair).
            UTF8.encode(unicode) { put($0) }
        default:
            throw failure("bad escape")
        }
    }

    /// The index of the first quote, backslash or control character at or after `from` (the end when none):
    /// eight bytes at a time, then byte by byte for the last few.
    private static func special(in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var index = from
        if let base = UnsafeRawPointer(bytes.baseAddress) {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                // A byte is zero in `x` exactly when (x - 1) & ~x sets its high bit; below 0x20, when (x - 0x20) & ~x does.
                let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                let found = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)) & highs
                // A borrow can mark a byte above a found one, never below it: the lowest mark is the first found.
                if found != 0 { return index + found.trailingZeroBitCount / 8 }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return index
    }

    private mutating func hex4() throws(PostgresError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    @inline(__always)
    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8) throws(PostgresError) {
        skipSpace()
        guard peek() == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    @inline(__always)
    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    @inline(never)
    private func failure(_ what: String) -> PostgresError {
        PostgresError(.decoding, message: "not the JSON expected (nested rows, or an object of strings): \(what) at byte \(index)")
    }
}
