/// The complete result of one statement, copied out of libpq so it can cross threads and outlive the connection.
///
/// Every cell's text sits in one byte buffer, and a cell is a span of it: reading a result
/// makes two allocations, not one string per cell, and a number is parsed from its bytes without ever being a string.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Rows affected by INSERT/UPDATE/DELETE (or returned by SELECT), as the server's command tag says.
    public let affectedRows: Int
    /// The cells' text, where each cell is in it, and the columns: one object that every row and cell read from
    /// this result refers to.
    let buffer: ResultBuffer
    let rowCount: Int

    init(columns: [String], columnTypes: [UInt32], affectedRows: Int, text: [UInt8], spans: [CellSpan], rowCount: Int) {
        precondition(spans.count == rowCount * columns.count, "a result's cells must fill its rows")
        self.affectedRows = affectedRows
        self.buffer = ResultBuffer(columns: columns, columnTypes: columnTypes, text: text, spans: spans)
        self.rowCount = rowCount
    }

    /// Column names in result order.
    public var columns: [String] { buffer.columns }
    /// Column type OIDs in result order.
    public var columnTypes: [UInt32] { buffer.columnTypes }

    public var startIndex: Int { 0 }
    public var endIndex: Int { rowCount }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(buffer: buffer, first: position * buffer.columns.count)
    }

    /// The only row; an error when there is none or more than one.
    public func single() throws(PostgresError) -> PostgresRow {
        guard count == 1 else {
            throw PostgresError(.decoding, message: "expected exactly one row, got \(count)")
        }
        return self[0]
    }

    /// Decodes every row as a tuple of the given types, one per column in order.
    public func decode<each T: PostgresDecodable>(_ types: (repeat each T).Type) throws -> [(repeat each T)] {
        try map { try $0.decode(types) }
    }
}

/// A result's cells and columns, immutable once made. Rows and cells hold this one reference instead of the
/// arrays themselves: reading a cell retains one object, not four.
@usableFromInline
final class ResultBuffer: Sendable {
    @usableFromInline let columns: [String]
    let columnTypes: [UInt32]
    /// Every cell's text, one after another.
    let text: [UInt8]
    /// Every row's cells, row after row (`columns.count` each): spans of `text`.
    @usableFromInline let spans: [CellSpan]

    init(columns: [String], columnTypes: [UInt32], text: [UInt8], spans: [CellSpan]) {
        self.columns = columns
        self.columnTypes = columnTypes
        self.text = text
        self.spans = spans
    }
}

/// One result row: values in text form, decoded on demand into typed Swift values.
public struct PostgresRow: Sendable {
    @usableFromInline let buffer: ResultBuffer
    /// The index of the row's first cell among the result's spans.
    @usableFromInline let first: Int

    /// Column names in result order.
    public var columns: [String] { buffer.columns }

    /// The cell at a column index (inlinable: the decoders of the stores read thousands of cells per result).
    @inlinable
    public func cell(at index: Int) throws(PostgresError) -> PostgresCell {
        let width = buffer.columns.count
        guard index >= 0, index < width else {
            throw PostgresError(.decoding, message: "column index \(index) out of range (row has \(width))")
        }
        return PostgresCell(buffer: buffer, span: buffer.spans[first + index], column: index)
    }

    /// The cell of the first column with this name.
    public func cell(named column: String) throws(PostgresError) -> PostgresCell {
        guard let index = buffer.columns.firstIndex(of: column) else {
            throw PostgresError(.decoding, message: "no column \"\(column)\" in result (columns: \(buffer.columns.joined(separator: ", ")))")
        }
        return try cell(at: index)
    }

    /// True when the named column is SQL NULL.
    public func isNull(_ column: String) throws -> Bool { try cell(named: column).isNull }

    /// Decodes the named column; use an Optional type to accept NULL.
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type, column: String) throws -> T {
        try T.decode(from: cell(named: column))
    }

    /// Decodes the column at an index; use an Optional type to accept NULL.
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type, at index: Int) throws -> T {
        try T.decode(from: cell(at: index))
    }

    /// Decodes the first columns as a tuple: `let (name, rank, at) = try row.decode((String, Int, Date?).self)`.
    @inlinable
    public func decode<each T: PostgresDecodable>(_ types: (repeat each T).Type) throws -> (repeat each T) {
        var index = 0
        func next<U: PostgresDecodable>(_ type: U.Type) throws -> U {
            defer { index += 1 }
            return try U.decode(from: cell(at: index))
        }
        return (repeat try next((each T).self))
    }
}

/// Where one cell's text is in its result's buffer; a negative count is SQL NULL.
@usableFromInline
struct CellSpan: Sendable {
    @usableFromInline var start: Int
    @usableFromInline var count: Int

    static let null = CellSpan(start: 0, count: -1)
}

/// A result's text being gathered: each cell's bytes appended, and its span.
struct CellTextBuilder {
    var text: [UInt8] = []
    var spans: [CellSpan] = []

    init() {}

    init(text: [UInt8], spans: [CellSpan]) {
        self.text = text
        self.spans = spans
    }

    mutating func appendNull() {
        spans.append(.null)
    }

    /// Appends one cell's bytes.
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        let start = text.count
        text.append(contentsOf: bytes)
        spans.append(CellSpan(start: start, count: bytes.count))
    }

    /// Starts a cell whose bytes the caller appends to `text` before calling ``finish(from:)``.
    var cellStart: Int { text.count }

    mutating func finish(from start: Int) {
        spans.append(CellSpan(start: start, count: text.count - start))
    }
}
