import Foundation
import Testing
@testable import QuiverCore
import QuiverTesting

/// The chaining states recorded while a file is hashed, and the piece-by-piece check that uses them, against
/// swift-crypto's digest of the whole.
@Suite("SHA-256 chains")
struct SHA256ChainTests {
    static let stride: Int64 = 1 << 20

    func bytes(_ count: Int, seed: UInt64) -> [UInt8] { HashingInputs.bytes(count, seed: seed) }

    /// Records the chain of `data`, fed in pieces of the given sizes (cycled).
    func record(_ data: [UInt8], pieces: [Int], stride: Int64 = stride) -> (SHA256Digest, SHA256Chain?) {
        SHA256Chain.digest(size: Int64(data.count), stride: stride) { HashingInputs.feed(data, inPieces: pieces, to: $0) }
    }

    /// Checks `data` as ranges of `partSize` (a multiple of the stride), each fed in pieces of `piece` bytes;
    /// returns whether each range passed. With `file`, the ranges' strides are checked two at a time, the first of
    /// each pair read back from `file` (what a download wrote), the second hashed as fed.
    func check(_ data: [UInt8], chain: SHA256Chain, expected: SHA256Digest, partSize: Int64, piece: Int = 70_001,
               file: [UInt8]? = nil) throws -> [Bool]
    {
        let size = Int64(data.count)
        let readBack = file.map { file in
            SHA256ChainReadBack { offset, buffer in
                guard offset >= 0, Int(offset) + buffer.count <= file.count else { throw ReadBackFailure() }
                file.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + buffer.count)])) }
            }
        }
        return try Swift.stride(from: Int64(0), to: size, by: Int(partSize)).map { start in
            let end = min(start + partSize, size)
            var segment = chain.segment(from: start, to: end, fileSize: size, expected: expected, readBack: readBack)
            try data.withUnsafeBytes { all in
                var at = Int(start)
                while at < Int(end) {
                    let next = min(Int(end), at + piece)
                    try segment.update(UnsafeRawBufferPointer(rebasing: all[at..<next]))
                    at = next
                }
            }
            return segment.passed(through: end)
        }
    }

    struct ReadBackFailure: Error {}

    @Test func recordingKeepsTheDigestAndTakesAStateAtEveryBoundaryInside() throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        for size in [(1 << 20) + 1, 3 << 20, (5 << 20) + 4321] {
            let data = bytes(size, seed: UInt64(size))
            for pieces in [[1 << 20], [4093, 65_536, 17], [size + 1]] {
                let (digest, chain) = record(data, pieces: pieces)
                #expect(digest == SHA256Digest.of(data), "size \(size), pieces \(pieces)")
                let recorded = try #require(chain)
                #expect(recorded.stride == Self.stride)
                #expect(recorded.boundaries == (size - 1) >> 20, "a state at each whole MiB before the end, size \(size)")
                #expect(recorded.fits(fileSize: Int64(size)))
                #expect(!recorded.fits(fileSize: Int64(size) + Self.stride))
            }
        }
    }

    @Test func nothingToSplitRecordsNoChain() {
        // One stride or less has no boundary inside; the digest is still the file's.
        let stride = bytes(1 << 20, seed: 1), small = bytes(1000, seed: 2)
        #expect(record(stride, pieces: [4096]) == (SHA256Digest.of(stride), nil))
        #expect(record(small, pieces: [64]) == (SHA256Digest.of(small), nil))
        // A stream of another length than announced records nothing either.
        let data = bytes(3 << 20, seed: 3)
        let short = SHA256Chain.digest(size: Int64(data.count) + 1, stride: Self.stride) { feed in data.withUnsafeBytes { feed($0) } }
        #expect(short.chain == nil)
    }

    @Test(arguments: [(6 << 20) + 999, 4 << 20], [false, true])
    func everyRangeOfTheRightBytesPassesInAnyPieces(size: Int, paired: Bool) throws {
        let data = bytes(size, seed: 7)
        let (digest, recorded) = record(data, pieces: [65_536])
        let chain = try #require(recorded)
        for partSize in [Self.stride, 2 * Self.stride, 3 * Self.stride, 4 * Self.stride, 16 * Self.stride] {
            for piece in [1, 63, 64 * 1024 + 3, size] where piece > 63 || partSize == Self.stride {
                #expect(try check(data, chain: chain, expected: digest, partSize: partSize, piece: piece, file: paired ? data : nil)
                    .allSatisfy { $0 }, "size \(size), part \(partSize), piece \(piece)")
            }
        }
    }

    @Test(arguments: [false, true])
    func aChangedByteFailsItsRangeAndOnlyItsRange(paired: Bool) throws {
        let size = (5 << 20) + 100
        let original = bytes(size, seed: 11)
        let (digest, recorded) = record(original, pieces: [1 << 20])
        let chain = try #require(recorded)
        for partSize in [2 * Self.stride, 3 * Self.stride] {
            for position in [0, (1 << 20) - 1, 1 << 20, (2 << 20) + 9, (3 << 20) + 5, size - 1] {
                var data = original
                data[position] ^= 0x01
                let results = try check(data, chain: chain, expected: digest, partSize: partSize, file: paired ? data : nil)
                let failed = results.indices.filter { !results[$0] }
                #expect(failed == [position / Int(partSize)], "byte \(position), part \(partSize)")
            }
        }
    }

    @Test func pairedStridesCheckWhatTheFileHolds() throws {
        // The first stride of each pair is hashed from the file, not from the bytes fed: a file changed after the
        // bytes were written fails its range even though the bytes fed were right.
        let size = (4 << 20) + 4321
        let data = bytes(size, seed: 37)
        let (digest, recorded) = record(data, pieces: [1 << 20])
        let chain = try #require(recorded)
        for position in [0, (1 << 20) - 1, (2 << 20) + 3] {
            var file = data
            file[position] ^= 0x10
            let results = try check(data, chain: chain, expected: digest, partSize: 2 * Self.stride, file: file)
            #expect(results.indices.filter { !results[$0] } == [position / (2 << 20)], "byte \(position) of the file")
        }
        // The last range pairs a whole stride with the file's short tail: the whole stride's rest, past the tail's
        // length, is read back too.
        // Ranges of three strides: the second range pairs stride 3 (read back) with the 4,321-byte stride 4.
        for position in [(3 << 20) + 10, (4 << 20) - 1] {
            var file = data
            file[position] ^= 0x01
            #expect(try check(data, chain: chain, expected: digest, partSize: 3 * Self.stride, file: file) == [true, false],
                    "byte \(position) of the file")
        }
        // A file that cannot be read back is an error of the read, not a pass or a refusal.
        #expect(throws: ReadBackFailure.self) {
            try check(data, chain: chain, expected: digest, partSize: 2 * Self.stride, file: Array(data.prefix(1000)))
        }
    }

    @Test func wrongStatesRefuseRightBytesButCannotPassWrongOnes() throws {
        let size = (4 << 20) + 64
        let data = bytes(size, seed: 13)
        let (digest, recorded) = record(data, pieces: [1 << 20])
        let chain = try #require(recorded)
        // A state altered: the two ranges that meet at it are refused, the others pass.
        var states = chain.states
        states[8 + 3] ^= 1  // the state at 2 MiB
        let altered = try #require(SHA256Chain(stride: chain.stride, states: states))
        #expect(try check(data, chain: altered, expected: digest, partSize: Self.stride) == [true, false, false, true, true])
        // Checked in pairs, the pair whose first stride ends at the altered state is refused, and the one after it.
        #expect(try check(data, chain: altered, expected: digest, partSize: 2 * Self.stride, file: data) == [false, false, true])
        // Other bytes for the whole file pass nowhere under the right digest, whatever states they come with: the
        // states of those bytes let every range but the last pass, and the last must end at the digest.
        var other = data
        other[size - 1] ^= 0x80
        let (_, otherChain) = record(other, pieces: [1 << 20])
        let results = try check(other, chain: try #require(otherChain), expected: digest, partSize: Self.stride)
        #expect(results == [true, true, true, true, false])
        #expect(try check(other, chain: try #require(otherChain), expected: digest, partSize: 2 * Self.stride, file: other) == [true, true, false])
    }

    @Test func aRangeMustBeFedToItsEnd() throws {
        let data = bytes(3 << 20, seed: 17)
        let (digest, recorded) = record(data, pieces: [1 << 20])
        let chain = try #require(recorded)
        var segment = chain.segment(from: 0, fileSize: Int64(data.count), expected: digest)
        try data.withUnsafeBytes { try segment.update(UnsafeRawBufferPointer(rebasing: $0[0..<((1 << 20) - 1)])) }
        #expect(!segment.passed(through: 1 << 20), "one byte short of the boundary")
        segment.reset()
        try data.withUnsafeBytes { try segment.update(UnsafeRawBufferPointer(rebasing: $0[0..<(1 << 20)])) }
        #expect(segment.passed(through: 1 << 20), "after a reset the range starts over")

        // Checked in pairs, a range retried half-way through its second stride starts over and passes.
        var file = data
        let readBack = SHA256ChainReadBack { offset, buffer in
            file.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + buffer.count)])) }
        }
        var paired = chain.segment(from: 0, to: 2 << 20, fileSize: Int64(data.count), expected: digest, readBack: readBack)
        try data.withUnsafeBytes { try paired.update(UnsafeRawBufferPointer(rebasing: $0[0..<((1 << 20) + 4097)])) }
        #expect(!paired.passed(through: 2 << 20), "half the second stride")
        paired.reset()
        try data.withUnsafeBytes { try paired.update(UnsafeRawBufferPointer(rebasing: $0[0..<(2 << 20)])) }
        #expect(paired.passed(through: 2 << 20), "after a reset the pair starts over")
        file[5] ^= 1
        paired.reset()
        try data.withUnsafeBytes { try paired.update(UnsafeRawBufferPointer(rebasing: $0[0..<(2 << 20)])) }
        #expect(!paired.passed(through: 2 << 20), "the first stride is what the file holds")
    }

    @Test func theEncodingRoundTripsAndRefusesOtherShapes() throws {
        let data = bytes((3 << 20) + 1, seed: 19)
        let chain = try #require(record(data, pieces: [1 << 20]).1)
        let encoded = chain.encoded
        #expect(encoded.count == 8 + chain.boundaries * 32)
        #expect(SHA256Chain(encoded: encoded) == chain)
        #expect(SHA256Chain(encoded: Array(encoded.dropLast())) == nil)
        #expect(SHA256Chain(encoded: [1, 2, 3]) == nil)
        // A stride of zero or off the block size is refused.
        #expect(SHA256Chain(encoded: [UInt8](repeating: 0, count: 8)) == nil)
        #expect(SHA256Chain(encoded: [0, 0, 0, 0, 0, 0, 0, 65]) == nil)
        #expect(SHA256Chain(stride: 0, states: []) == nil)
        // A stride so large that whole-stride ranges would overflow, and a chain with no state, are not used.
        #expect(SHA256Chain(encoded: [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0]) == nil)
        #expect(SHA256Chain(stride: 1 << 41, states: []) == nil)
        #expect(SHA256Chain(stride: 1 << 20, states: [])?.fits(fileSize: 1000) == false)
        #expect(SHA256Chain(stride: 64, states: [1, 2, 3]) == nil)
    }

    /// A file of `size` seeded bytes in a fresh directory (the caller removes it), with its digest and the chain
    /// recorded at ``stride``.
    func recordedFile(size: Int, seed: UInt64) throws
        -> (directory: URL, path: String, data: [UInt8], digest: SHA256Digest, chain: SHA256Chain)
    {
        let data = bytes(size, seed: seed)
        let directory = try Fixtures.temporaryDirectory("chain")
        let file = directory.appendingPathComponent("weights.bin")
        try Data(data).write(to: file)
        let (digest, recorded) = record(data, pieces: [1 << 20])
        return (directory, file.path, data, digest, try #require(recorded))
    }

    @Test(arguments: [1, 2, 4])
    func aFileIsAcceptedAsHashedAndRefusedChangedInAnyStride(workers: Int) throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        // Odd: a partial last block, a short last stride, and an odd number of strides (one left without a pair).
        let size = (4 << 20) + 1234
        let (directory, path, original, digest, chain) = try recordedFile(size: size, seed: 23)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(chain.strideCount == 5)
        #expect(try chain.verify(fileAt: path, size: Int64(size), expected: digest, workers: workers))
        // One byte changed at either end of a stride, in the middle, or at the file's end, is caught.
        for position in [0, (1 << 20) - 1, 1 << 20, (2 << 20) + 77, (4 << 20) - 1, 4 << 20, size - 1] {
            var changed = original
            changed[position] ^= 0x01
            try Data(changed).write(to: URL(fileURLWithPath: path))
            #expect(try !chain.verify(fileAt: path, size: Int64(size), expected: digest, workers: workers), "byte \(position)")
            // Checked stride by stride, only the changed one fails.
            let passing = try (0..<chain.strideCount).map {
                try chain.verify(fileAt: path, size: Int64(size), expected: digest, strides: $0..<($0 + 1), workers: 1)
            }
            #expect(passing.indices.filter { !passing[$0] } == [position >> 20], "byte \(position)")
        }
        // A longer or shorter file is not the file; another digest is not its digest.
        try Data(original + [0]).write(to: URL(fileURLWithPath: path))
        #expect(try !chain.verify(fileAt: path, size: Int64(size), expected: digest, workers: workers))
        try Data(original.dropLast()).write(to: URL(fileURLWithPath: path))
        #expect(try !chain.verify(fileAt: path, size: Int64(size), expected: digest, workers: workers))
        try Data(original).write(to: URL(fileURLWithPath: path))
        #expect(try !chain.verify(fileAt: path, size: Int64(size), expected: SHA256Digest.of(Data("other".utf8)), workers: workers))
    }

    @Test func wrongStatesRefuseAGoodFileAndNeverPassAChangedOne() throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let size = (3 << 20) + 64
        let (directory, path, original, digest, chain) = try recordedFile(size: size, seed: 29)
        defer { try? FileManager.default.removeItem(at: directory) }
        var states = chain.states
        states[0] ^= 1
        let altered = try #require(SHA256Chain(stride: chain.stride, states: states))
        #expect(try !altered.verify(fileAt: path, size: Int64(size), expected: digest, workers: 2))
        // The chain of other bytes does not make them pass under this digest.
        var other = original
        other[10] ^= 0x40
        try Data(other).write(to: URL(fileURLWithPath: path))
        let otherChain = try #require(record(other, pieces: [1 << 20]).1)
        #expect(try !otherChain.verify(fileAt: path, size: Int64(size), expected: digest, workers: 2))
    }

    @Test func aChainThatDoesNotFitOrAPathThatIsNoFileIsAnError() throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let size = (2 << 20) + 5
        let (directory, path, _, digest, chain) = try recordedFile(size: size, seed: 31)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Recorded for another size, or strides that are not the file's: refused, not trusted.
        #expect(throws: SHA256Chain.VerificationError.unusableChain) {
            try chain.verify(fileAt: path, size: Int64(size) + (1 << 20), expected: digest, workers: 2)
        }
        #expect(throws: SHA256Chain.VerificationError.unusableChain) {
            try chain.verify(fileAt: path, size: Int64(size), expected: digest, strides: 2..<4, workers: 1)
        }
        // A FIFO is refused at once (nothing blocks on it); a missing file is unreadable.
        let fifo = directory.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: SHA256Chain.VerificationError.self) {
            try chain.verify(fileAt: fifo, size: Int64(size), expected: digest, workers: 2)
        }
        #expect(throws: SHA256Chain.VerificationError.self) {
            try chain.verify(fileAt: directory.appendingPathComponent("missing").path, size: Int64(size), expected: digest, workers: 2)
        }
    }
}
