import Foundation
import Testing
@testable import QuiverCore

/// `SHA256Pair` gives exactly swift-crypto's digests, whatever the split of the input into updates.
@Suite("SHA256Pair")
struct SHA256PairTests {
    /// A deterministic generator (SplitMix64), so a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func reference(_ bytes: [UInt8]) -> SHA256Digest { SHA256Digest.of(bytes) }

    @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4096 + 17, 1 << 20])
    func identicalStreamsOfEveryLength(length: Int) {
        var generator = Generator(state: UInt64(length))
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var pair = SHA256Pair()
        bytes.withUnsafeBytes { pair.updateBoth($0) }
        let (a, b) = pair.finalize()
        #expect(a == reference(bytes) && b == reference(bytes))
    }

    @Test(arguments: 0..<40, [true, false])
    func streamsThatShareSomeBytesSplitAnywhere(seed: Int, accelerated: Bool) {
        var generator = Generator(state: UInt64(seed) &* 7919)
        var first: [UInt8] = [], second: [UInt8] = []
        var pair = SHA256Pair(accelerated: accelerated)
        for _ in 0..<Int.random(in: 1...30, using: &generator) {
            let count = [0, 1, 3, 63, 64, 65, 200, 5000, 70_000].randomElement(using: &generator)! + Int.random(in: 0...2, using: &generator)
            let chunk = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: chunk.withUnsafeBytes { pair.updateFirst($0) }; first += chunk
            case 1: chunk.withUnsafeBytes { pair.updateSecond($0) }; second += chunk
            default: chunk.withUnsafeBytes { pair.updateBoth($0) }; first += chunk; second += chunk
            }
        }
        let (a, b) = pair.finalize()
        #expect(a == reference(first), "first stream, seed \(seed), accelerated \(accelerated)")
        #expect(b == reference(second), "second stream, seed \(seed), accelerated \(accelerated)")
    }

    @Test func theExtensionsAreUsedWhereTheCPUHasThem() {
        // On x86-64 with SHA-NI (every machine this project's CI runs on) the interleaved kernel is the path taken.
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        #expect(SHA256Pair.accelerated == flags.contains(" sha_ni"))
        #endif
    }

    @Test func finalizeDoesNotConsumeTheState() {
        var pair = SHA256Pair()
        let bytes = Array("abc".utf8)
        bytes.withUnsafeBytes { pair.updateBoth($0) }
        #expect(pair.finalize().first == pair.finalize().first)
        #expect(pair.finalize().first.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
