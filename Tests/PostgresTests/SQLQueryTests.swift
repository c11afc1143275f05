import Foundation
import Testing
@testable import Postgres

@Suite("SQLQuery and text formats")
struct SQLQueryTests {
    @Test func interpolatedValuesBecomeNumberedBinds() {
        let name = "x'; DROP TABLE t; --"
        let rank = 8
        let missing: String? = nil
        let query: SQLQuery = "SELECT * FROM t WHERE name = \(name) AND r = \(rank) AND note IS NOT DISTINCT FROM \(missing)"
        #expect(query.sql == "SELECT * FROM t WHERE name = $1 AND r = $2 AND note IS NOT DISTINCT FROM $3")
        #expect(query.binds.count == 3)
        #expect(query.binds[0].bytes == Array(name.utf8))
        #expect(query.binds[1].typeOID == PostgresType.int8)
        #expect(query.binds[2].bytes == nil)
    }

    @Test func appendRenumbersParameters() {
        var query: SQLQuery = "SELECT 1 WHERE a = \(1)"
        let tail: SQLQuery = " AND b = \(2) AND c = \(3)"
        query.append(tail)
        #expect(query.sql == "SELECT 1 WHERE a = $1 AND b = $2 AND c = $3")
        #expect(query.binds.map { $0.bytes.map { String(decoding: $0, as: UTF8.self) } } == ["1", "2", "3"])
    }

    @Test func bytesAreBinaryBytea() {
        let bytes: [UInt8] = [0, 1, 255]
        let query: SQLQuery = "SELECT \(bytes), \(Data(bytes))"
        #expect(query.binds.allSatisfy { $0.isBinary && $0.typeOID == PostgresType.bytea && $0.bytes == bytes })
    }

    @Test func stringArraysAreQuoted() {
        let bind = ["a", "b,c", "q\"x", "back\\slash", "NULL"].postgresBind
        #expect(bind.typeOID == PostgresType.textArray)
        #expect(bind.bytes.map { String(decoding: $0, as: UTF8.self) } == #"{"a","b,c","q\"x","back\\slash","NULL"}"#)
    }

    @Test(arguments: [
        (#"{a,"b,c",NULL,"q\"x"}"#, ["a", "b,c", nil, "q\"x"] as [String?]),
        ("{}", []),
        ("{1,2,3}", ["1", "2", "3"]),
        (#"{"é,ü","\\x","a b",NULLX,""}"#, ["é,ü", "\\x", "a b", "NULLX", ""]),
        ("{{}", nil),
    ])
    func arrayLiteralParses(text: String, expected: [String?]?) {
        #expect(Self.arrayItems(text) == expected)
    }

    @Test(arguments: ["", "{", "a,b", "{{1,2},{3,4}}", #"{"unterminated}"#])
    func malformedArrayLiteralIsRejected(text: String) {
        #expect(Self.arrayItems(text) == nil)
    }

    /// The items of an array literal as text (nil for NULL), or nil when it is not one.
    static func arrayItems(_ text: String) -> [String?]? {
        var text = text
        guard let items = text.withUTF8(PostgresArrayLiteral.cells(of:)) else { return nil }
        let buffer = ResultBuffer(columns: [""], columnTypes: [0], text: items.text, spans: items.spans)
        return items.spans.map { PostgresCell(buffer: buffer, span: $0, column: 0).text }
    }

    @Test func timestampRoundTripsAtMicrosecondPrecision() throws {
        let date = Date(timeIntervalSince1970: 1_714_567_890.123456)
        let text = PostgresTimestamp.format(date)
        #expect(text == "2024-05-01 12:51:30.123456+00")
        let parsed = try #require(PostgresTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) < 1e-6)
    }

    @Test func timestampWithOffsetAndNoFraction() throws {
        let parsed = try #require(PostgresTimestamp.parse("2024-05-01 14:51:30+02"))
        #expect(parsed.timeIntervalSince1970 == 1_714_567_890)
        let halfHour = try #require(PostgresTimestamp.parse("2024-05-01 13:21:30.5+00:30"))
        #expect(halfHour.timeIntervalSince1970 == 1_714_567_890.5)
        #expect(PostgresTimestamp.parse("infinity") == nil)
    }

    @Test func timestampDaysCountAsTimegmDoes() {
        for year in [1, 4, 100, 399, 400, 1582, 1900, 1969, 1970, 1999, 2000, 2024, 2100, 2400, 9999] {
            for (month, day) in [(1, 1), (2, 28), (2, 29), (3, 1), (12, 31)] {
                var fields = tm()
                fields.tm_year = Int32(year - 1900)
                fields.tm_mon = Int32(month - 1)
                fields.tm_mday = Int32(day)
                #expect(PostgresTimestamp.days(year: year, month: month, day: day) * 86_400 == Int(timegm(&fields)), "\(year)-\(month)-\(day)")
            }
        }
    }

    @Test(arguments: ["2024-13-01 00:00:00+00", "2024-05-32 00:00:00+00", "2024-05-01 24:00:00+00", "2024-05-01 12:60:00+00",
                      "2024-05-01T12:00:00+00", "2024-05-01 12:00:00", "2024-05-01 12:00:00+00 BC", "12024-05-01 12:00:00+00"])
    func timestampsOutsideTheServersOutputAreRefused(_ text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test(arguments: ["0", "-0", "+5", "42", "-17", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                      "-9223372036854775809", "", "-", "+", "1a", " 1", "1 ", "0x10", "١", "1.0", "99999999999999999999"])
    func integersReadFromBytesAsFromText(_ text: String) throws {
        let cell = PostgresCell(text: text, typeOID: PostgresType.int8, column: "n")
        #expect((try? Int64.decode(from: cell)) == Int64(text))
        #expect((try? Int.decode(from: cell)) == Int(text))
        #expect((try? Int32.decode(from: cell)) == Int32(text))
    }

    @Test(arguments: ["0", "-0", "1.5", "0.1", "-2e-07", "1.7976931348623157e+308", "2e308", "4.9e-324", "1e-400", "NaN",
                      "Infinity", "-Infinity", "", "-", "1a", " 1", "1 ", "1.0.0", "1,5", "0x10", "inf", "nan", "١",
                      String(repeating: "1", count: 200) + ".5"])
    func floatsReadFromBytesAsFromText(_ text: String) throws {
        let cell = PostgresCell(text: text, typeOID: PostgresType.float8, column: "f")
        let expected: Double? = switch text {
        case "NaN": .nan
        case "Infinity": .infinity
        case "-Infinity": -.infinity
        default: Double(text)
        }
        let decoded = try? Double.decode(from: cell)
        #expect(decoded?.bitPattern == expected?.bitPattern, "\(text)")
    }

    @Test(arguments: [("t", true), ("f", false), ("true", true), ("false", false), ("T", nil), ("yes", nil), ("", nil),
                      ("tru", nil), ("falsy", nil), ("truee", nil), ("1", nil)] as [(String, Bool?)])
    func booleansAsTheServerWritesThem(_ text: String, _ expected: Bool?) {
        #expect((try? Bool.decode(from: PostgresCell(text: text, typeOID: 16, column: "b"))) == expected)
    }

    @Test func textArraysRefuseANullItemUnlessOptional() throws {
        let cell = PostgresCell(text: #"{a,"b c",NULL,"q\"x"}"#, typeOID: 1009, column: "tags")
        #expect(try [String?].decode(from: cell) == ["a", "b c", nil, "q\"x"])
        let error = try #require(throws: PostgresError.self) { try [String].decode(from: cell) }
        #expect(error.kind == .decoding)
        #expect(error.message.contains("tags"))
        #expect(try [String].decode(from: PostgresCell(text: #"{a,"b c","",NULLX}"#, typeOID: 1009, column: "t")) == ["a", "b c", "", "NULLX"])
        #expect(try [String].decode(from: PostgresCell(text: "{}", typeOID: 1009, column: "t")) == [])
        #expect(throws: PostgresError.self) { try [String].decode(from: PostgresCell(text: "{a", typeOID: 1009, column: "t")) }
    }

    @Test func cellsCompareByTheirText() {
        let a = PostgresCell(text: "x", typeOID: PostgresType.text, column: "c")
        #expect(a == PostgresCell(text: "x", typeOID: PostgresType.text, column: "c"))
        #expect(a != PostgresCell(text: nil, typeOID: PostgresType.text, column: "c"))
        #expect(a.hashValue == PostgresCell(text: "x", typeOID: PostgresType.text, column: "c").hashValue)
        #expect(PostgresCell(text: nil, typeOID: PostgresType.text, column: "c").isNull)
        #expect(PostgresCell(text: "", typeOID: PostgresType.text, column: "c").text == "")
    }

    @Test func byteaHexDecodes() {
        #expect(Hex.decodeBytea(#"\x00ff10"#) == [0, 255, 16])
        #expect(Hex.decodeBytea("00ff") == nil)
        #expect(Hex.decodeBytea(#"\x0g"#) == nil)
    }

    @Test func nullIntoNonOptionalIsANamedError() {
        let cell = PostgresCell(text: nil, typeOID: PostgresType.text, column: "note")
        #expect(throws: PostgresError.self) { try String.decode(from: cell) }
        #expect((try? String?.decode(from: cell)) == .some(nil))
    }
}
