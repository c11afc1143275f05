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
