import Foundation
import QuiverCore
@testable import Registry
import Testing

@Suite struct AdapterRefTests {
    @Test func parsesEveryForm() throws {
        #expect(try AdapterRef.parse("tone") == .latest(name: "tone"))
        #expect(try AdapterRef.parse("team/tone-v2@3") == .version(name: "team/tone-v2", number: 3))
        #expect(try AdapterRef.parse("tone@production") == .alias(name: "tone", alias: "production"))
        let hex = String(repeating: "ab", count: 32)
        #expect(try AdapterRef.parse(hex) == .digest(SHA256Digest(hex: hex)!))
        #expect(try AdapterRef.parse("sha256:" + hex.uppercased()) == .digest(SHA256Digest(hex: hex)!))
    }

    @Test(arguments: ["", "@3", "tone@0", "tone@-1", "-tone", "to ne", "tone@prod uction", "tone@9lives", "sha256:abc",
                      String(repeating: "x", count: 129)])
    func refusesMalformed(_ text: String) {
        #expect(throws: RegistryError.self) { try AdapterRef.parse(text) }
    }

    @Test(arguments: ["tone", " tone ", "\ttone@3\t", "\u{00A0}tone\u{3000}", "   ", "", "tone\n", "\n tone", " to ne ", "\u{2003}"])
    func blanksAreTrimmedAsFoundationTrimsThem(_ text: String) {
        #expect(AdapterRef.trimmingBlanks(text) == text.trimmingCharacters(in: .whitespaces))
    }

    @Test func referencesWithBlanksAroundThemParse() throws {
        #expect(try AdapterRef.parse(" tone@3\t") == .version(name: "tone", number: 3))
        #expect(try AdapterRef.parse("\u{00A0}tone") == .latest(name: "tone"))
        #expect(throws: RegistryError.self) { try AdapterRef.parse("tone\n") }
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["tone", "tone@4", "tone@staging", "sha256:" + String(repeating: "0", count: 64)] {
            #expect(try AdapterRef.parse(text).description == text)
        }
    }

    @Test func durations() throws {
        #expect(try GraceDuration.seconds("90") == 90)
        #expect(try GraceDuration.seconds("30m") == 1800)
        #expect(try GraceDuration.seconds("24h") == 86_400)
        #expect(try GraceDuration.seconds("7d") == 604_800)
        for bad in ["", "h", "-1h", "1.5h", "10w", "99999999999999999999d"] {
            #expect(throws: RegistryError.self) { try GraceDuration.seconds(bad) }
        }
    }
}
