import Foundation
import QuiverTesting
import Testing
@testable import Postgres

/// `PostgresRows(jsonRows:columns:)`: the reader of rows nested in one JSON column, against Foundation's reader and
/// against what the real server sends.
@Suite("Nested rows")
struct NestedRowsTests {
    @Test(arguments: [
        #"[["a", null, "b"], ["", "c", null]]"#,
        "[]",
        "[[], []]",
        #" [ [ "esc \" \\ \/ \b \f \n \r \t" ] ] "#,
        #"[["a run of more than eight bytes, then \" an escape \\ and more", "exactly8", "é中😀 past eight bytes \u00e9"]]"#,
        #"[["", "\"", "\\\\", "12345678\n12345678"]]"#,
        #"[["\u00e9\u4e2d\ud83d\ude00", "raw é中😀", "\u0000"]]"#,
    ])
    func readsWhatFoundationReads(json: String) throws {
        let expected = try JSONDecoder().decode([[String?]].self, from: Data(json.utf8))
        var text = json
        let width = expected.first?.count ?? 0
        let parsed = try text.withUTF8 { bytes in
            var parser = JSONTextReader(bytes: bytes)
            return try parser.rows(width: width)
        }
        let rows = PostgresRows(columns: Array(repeating: "c", count: width), columnTypes: Array(repeating: 0, count: width),
                                affectedRows: 0, text: parsed.text, spans: parsed.spans, rowCount: width == 0 ? 0 : parsed.spans.count / width)
        #expect(try rows.flatMap { row in try (0..<width).map { try row.cell(at: $0).text } } == expected.flatMap { $0 })
    }

    /// Strings of every length up to 40 over quotes, backslashes, control characters, ASCII and multi-byte
    /// characters, so each lands at every offset of the eight-byte scan: read back as JSONEncoder wrote them.
    @Test func readsRandomStringsAsFoundationWroteThem() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "中", "😀", "\u{7F}"]
        for length in 0...40 {
            let rows = (0..<5).map { _ in
                (0..<3).map { _ in String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }) }
            }
            var json = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
            let parsed = try json.withUTF8 { bytes in
                var parser = JSONTextReader(bytes: bytes)
                return try parser.rows(width: 3)
            }
            let read = PostgresRows(columns: ["a", "b", "c"], columnTypes: [0, 0, 0], affectedRows: 0, text: parsed.text,
                                    spans: parsed.spans, rowCount: parsed.spans.count / 3)
            #expect(try read.map { row in try (0..<3).map { try row.decode(String.self, at: $0) } } == rows)
        }
    }

    @Test(arguments: [
        "", "[", "[[]", #"[["a"]"#, #"[["a",]]"#, #"[["a" "b"]]"#, "[[1]]", "[[true]]", #"[["a"]] x"#,
        #"[["\x"]]"#, #"[["\ud83d"]]"#, #"[["\ude00"]]"#, #"[["\u12"]]"#, "[[nul]]", "[[\"tab\t\"]]", #"{"a": 1}"#,
        "[[\"a control character after eight bytes\u{01}\"]]", #"[["unterminated after eight bytes"#,
    ])
    func refusesAnythingElse(json: String) {
        var text = json
        let result = text.withUTF8 { bytes in
            var parser = JSONTextReader(bytes: bytes)
            return Result { () throws(PostgresError) in try parser.rows(width: 1) }
        }
        #expect(throws: PostgresError.self) { try result.get() }
    }

    @Test(arguments: [#"{}"#, #" { "a" : "b" , "c\u00e9": "d\n\"" } "#, #"{"k": "v", "k2": ""}"#])
    func readsStringObjectsAsFoundationDoes(json: String) throws {
        let expected = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        #expect(try [String: String].decode(from: PostgresCell(text: json, typeOID: 0, column: "tags")) == expected)
    }

    /// Objects of random keys and values (every string decoded into one scratch buffer in turn, long after short
    /// and short after long), read back as JSONEncoder wrote them.
    @Test func readsRandomStringObjectsAsFoundationWroteThem() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "Z", " ", "\"", "\\", "\n", "\u{01}", "é", "中", "😀"]
        for _ in 0..<200 {
            var object: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                func text() -> String {
                    String((0..<Int.random(in: 0...30, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
                }
                object[text()] = text()
            }
            let json = String(decoding: try JSONEncoder().encode(object), as: UTF8.self)
            #expect(try [String: String].decode(from: PostgresCell(text: json, typeOID: 0, column: "tags")) == object)
        }
    }

    @Test(arguments: ["", "{", #"{"a"}"#, #"{"a": 1}"#, #"{"a": null}"#, #"{"a": "b",}"#, #"{"a": "b"} x"#, "[]", #"{a: "b"}"#])
    func refusesOtherObjects(json: String) {
        #expect(throws: PostgresError.self) { try [String: String].decode(from: PostgresCell(text: json, typeOID: 0, column: "tags")) }
    }

    @Test func rowsWithTheWrongWidthAreRefused() throws {
        func nested(_ json: String?, _ columns: [String]) throws -> PostgresRows {
            try PostgresRows(jsonRows: PostgresCell(text: json, typeOID: 0, column: "rows"), columns: columns)
        }
        #expect(throws: PostgresError.self) { try nested(#"[["a", "b"]]"#, ["one"]) }
        #expect(throws: PostgresError.self) { try nested(#"[["a"], ["b", "c"], ["d"]]"#, ["one"]) }
        let rows = try nested(#"[["a", null], ["b", "c"], [null, "d"]]"#, ["one", "two"])
        #expect(rows.count == 3)
        #expect(try rows.map { try $0.decode((String?, String?).self) }.map { [$0.0, $0.1] } == [["a", nil], ["b", "c"], [nil, "d"]])
        #expect(try nested(nil, ["one"]).isEmpty)
    }

    @Test func serverTextOutputDecodesAsInAnOrdinaryResult() throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        let conn = try PostgresConnection(url: url)
        let select = """
            SELECT 42::bigint, 'q"uo\\te é'::text, 0.1::float8, true, '2024-05-01 12:51:30.123456+00'::timestamptz,
                   ARRAY['a', 'b,c', NULL]::text[], '{"k": "v"}'::jsonb, NULL::text
            """
        let plain = try conn.query(SQLQuery(unsafeSQL: select)).single()
        let json = try conn.query(SQLQuery(unsafeSQL: """
            SELECT json_agg(json_build_array(a::text, b::text, c::text, d::text, e::text, f::text, g::text, h::text))
            FROM (\(select)) AS t(a, b, c, d, e, f, g, h)
            """)).single()
        let columns = ["a", "b", "c", "d", "e", "f", "g", "h"]
        let nested = try PostgresRows(jsonRows: json.cell(at: 0), columns: columns).single()
        #expect(try nested.decode(Int64.self, at: 0) == plain.decode(Int64.self, at: 0))
        #expect(try nested.decode(String.self, at: 1) == plain.decode(String.self, at: 1))
        #expect(try nested.decode(Double.self, at: 2) == plain.decode(Double.self, at: 2))
        #expect(try nested.decode(Bool.self, at: 3) == true)
        #expect(try nested.decode(Date.self, at: 4) == plain.decode(Date.self, at: 4))
        #expect(try nested.decode([String?].self, at: 5) == plain.decode([String?].self, at: 5))
        #expect(try nested.decode(String.self, at: 6) == plain.decode(String.self, at: 6))
        #expect(try nested.decode([String: String].self, at: 6) == ["k": "v"])
        #expect(try nested.decode(String?.self, at: 7) == nil)
    }
}
