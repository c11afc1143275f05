import Foundation
import Testing
@testable import Postgres

/// The readers of numbers in a cell's text, against the standard library's.
@Suite("Number text")
struct NumberTextTests {
    private func parsed(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { parseDouble($0) }
    }

    /// Random decimals of 1 to 19 digits with the point anywhere (the short exact path takes those of up to 15
    /// significant digits, strtod the rest): the same double as `Double(String)`, bit for bit, sign of zero included.
    @Test func decimalsReadAsTheStandardLibraryReadsThem() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 1...19, using: &generator)
            var digits = String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            if Bool.random(using: &generator) { digits = String(repeating: "0", count: Int.random(in: 1...4, using: &generator)) + digits }
            let point = Int.random(in: 0...digits.count, using: &generator)
            var text = point == digits.count ? digits : String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
            if text.hasPrefix(".") { text = "0" + text }
            if Bool.random(using: &generator) { text = "-" + text }
            let expected = Double(text)
            #expect(parsed(text)?.bitPattern == expected?.bitPattern, "\(text)")
        }
    }

    @Test(arguments: [
        "0", "-0", "0.5", "-0.25", "1", "123456789012345", "0.000000000000000000001", "0.1", "0.3", "2.675",
        "9007199254740993", "1234567890123456789", "0.30000000000000004", "1e-07", "-2e-07", "1.5E+300", "1.",
        ".5", "+1", "NaN", "Infinity", "-Infinity", "0.12345678901234567890123", "00000000000000000000001.5", "0x10",
    ])
    func edgeCasesReadAsTheStandardLibraryReadsThem(text: String) {
        let expected = Double(text)
        #expect(parsed(text)?.bitPattern == expected?.bitPattern || (parsed(text)?.isNaN == true && expected?.isNaN == true))
    }

    @Test(arguments: ["", "-", ".", "-.", "1.2.3", "1-2", "1 ", " 1", "1,5", "١", "1\u{0}2", "--1"])
    func anythingElseIsRefused(text: String) {
        #expect(parsed(text) == nil)
    }
}

@Suite("Integer text")
struct IntegerTextTests {
    private func parsed<T: FixedWidthInteger & SignedInteger>(_ text: String, as type: T.Type) -> T? {
        var text = text
        return text.withUTF8 { parseInteger($0, as: T.self) }
    }

    /// Every length of digits from 1 to 21 (the short path takes up to 18), signed and not, at the edges of Int32
    /// and Int64 and at random: what `T(String)` reads, nil where it refuses.
    @Test func integersReadAsTheStandardLibraryReadsThem() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "+0", "+7", "2147483647", "2147483648", "-2147483648", "-2147483649",
                     "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                     "999999999999999999", "1000000000000000000", "000000000000000000000000042"]
        for length in 1...21 {
            for _ in 0..<200 {
                var text = String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
                if Bool.random(using: &generator) { text = "-" + text }
                texts.append(text)
            }
        }
        for text in texts {
            #expect(parsed(text, as: Int64.self) == Int64(text), "\(text)")
            #expect(parsed(text, as: Int32.self) == Int32(text), "\(text)")
            #expect(parsed(text, as: Int.self) == Int(text), "\(text)")
        }
    }

    @Test(arguments: ["", "-", "+", "1.0", "1e3", " 1", "1 ", "--1", "0x1", "12a", "١٢"])
    func anythingElseIsRefused(text: String) {
        #expect(parsed(text, as: Int64.self) == nil)
        #expect(parsed(text, as: Int32.self) == nil)
    }
}
