import Foundation
import QuiverTesting
import Testing
@testable import QuiverCore

/// The midpoint recorded while hashing a file, and the two-halves check that uses it, against swift-crypto.
@Suite("SHA-256 midpoints")
struct SHA256MidpointTests {
    func bytes(_ count: Int, seed: UInt8) -> [UInt8] { HashingInputs.bytes(count, seed: UInt64(seed)) }

    /// Feeds `data` in pieces of the given sizes (cycled), as a file's windows would come.
    func digest(_ data: [UInt8], pieces: [Int]) -> (digest: SHA256Digest, midpoint: SHA256Midpoint?) {
        SHA256Midpoint.digest(size: Int64(data.count)) { HashingInputs.feed(data, inPieces: pieces, to: $0) }
    }

    @Test func theDigestIsSHA256AndTheMidpointSitsHalfWay() {
        for size in [0, 1000, (1 << 20) - 1, 1 << 20, (3 << 20) + 77, (5 << 20) + 64] {
            let data = bytes(size, seed: UInt8(size % 251))
            let reference = SHA256Digest.of(data)  // swift-crypto
            for pieces in [[1 << 20], [4093, 65_536, 17], [size + 1]] {
                let (digest, midpoint) = digest(data, pieces: pieces)
                #expect(digest == reference, "size \(size), pieces \(pieces)")
                if SHA256Midpoint.available && Int64(size) >= SHA256Midpoint.minimumFileSize {
                    #expect(midpoint?.offset == Int64(size) / 2 / 64 * 64, "size \(size)")
                } else {
                    #expect(midpoint == nil)
                }
            }
        }
    }

    @Test func theTwoHalvesAcceptTheFileAndNothingElse() throws {
        guard SHA256Midpoint.available else { return }  // the check needs the SHA extensions
        let directory = try Fixtures.temporaryDirectory("midpoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("weights.bin")
        let size = (3 << 20) + 1234  // odd: a partial last block, halves of different lengths
        let original = bytes(size, seed: 7)
        try Data(original).write(to: file)
        let (digest, found) = digest(original, pieces: [1 << 20])
        let midpoint = try #require(found)
        #expect(try midpoint.verify(fileAt: file.path, size: Int64(size), expected: digest))
        // One byte changed in either half, or at the byte just before or at the midpoint, is caught.
        for position in [0, Int(midpoint.offset) - 1, Int(midpoint.offset), size - 1] {
            var changed = original
            changed[position] ^= 0x01
            try Data(changed).write(to: file)
            #expect(try !midpoint.verify(fileAt: file.path, size: Int64(size), expected: digest), "byte \(position)")
        }
        // A longer or shorter file is not the file.
        try Data(original + [0]).write(to: file)
        #expect(try !midpoint.verify(fileAt: file.path, size: Int64(size), expected: digest))
        try Data(original).write(to: file)
        #expect(try !midpoint.verify(fileAt: file.path, size: Int64(size), expected: SHA256Digest.of(Data("other".utf8))))
        // A midpoint that does not fit the file is refused, not trusted.
        let beyond = SHA256Midpoint(offset: Int64(size + 64) / 64 * 64, state: midpoint.state)
        #expect(throws: SHA256Midpoint.VerificationError.unusableMidpoint) {
            try beyond.verify(fileAt: file.path, size: Int64(size), expected: digest)
        }
    }
}
