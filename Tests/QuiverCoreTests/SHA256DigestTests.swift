import Foundation
import QuiverCore
import Testing

@Suite struct SHA256DigestTests {
    @Test func knownVectors() {
        #expect(SHA256Digest.of(Data()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.of(Data("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func streamingEqualsOneShot() throws {
        let bytes = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-digest-\(UUID().uuidString)")
        try bytes.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try SHA256Digest.ofFile(at: url) == SHA256Digest.of(bytes))
    }

    @Test func hexValidation() {
        #expect(SHA256Digest(hex: String(repeating: "A", count: 64))?.hex == String(repeating: "a", count: 64))
        #expect(SHA256Digest(hex: "abc") == nil)
        #expect(SHA256Digest(hex: String(repeating: "g", count: 64)) == nil)
    }

    /// Every ASCII character, and a few beyond, at every position of an otherwise valid digest: accepted exactly
    /// when it is a hex digit (the check reads eight bytes at a time, so each lands at every offset of a word).
    @Test func hexValidationOfEveryCharacterAtEveryPosition() {
        let valid = Array("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        let others: [Character] = ["é", "\u{80}", "\u{FF}", "中"]
        for position in 0..<64 {
            for character in (0..<128).map({ Character(Unicode.Scalar(UInt8($0))) }) + others {
                var text = valid
                text[position] = character
                let digest = SHA256Digest(hex: String(text))
                if character.isHexDigit, character.isASCII {
                    #expect(digest?.hex == String(text).lowercased(), "\(character) at \(position)")
                } else {
                    #expect(digest == nil, "\(character.unicodeScalars.first!.value) at \(position)")
                }
            }
        }
    }
}
