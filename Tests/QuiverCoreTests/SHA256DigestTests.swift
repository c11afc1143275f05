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
}
