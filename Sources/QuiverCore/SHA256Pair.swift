import CSHA256
import Crypto

/// Two SHA-256 digests of two byte streams that share most of their bytes (a weights file, and the canonical
/// stream that is its tensors with description lines between them), computed in one pass: bytes both streams
/// contain go through both hashers at once. With the x86 SHA extensions the two hashers run interleaved on one
/// core (``quiver_sha256_blocks_x2``), so two digests cost little more than one; elsewhere they are two ordinary
/// hashers. Either way the digests are standard SHA-256 (tested against swift-crypto).
public struct SHA256Pair {
    static let accelerated = quiver_sha256_accelerated() == 1

    private var first = Stream(), second = Stream()
    private var fallback: (first: SHA256, second: SHA256)?

    public init() {
        self.init(accelerated: Self.accelerated)
    }

    /// `accelerated: false` uses the two swift-crypto hashers, as on a CPU without the SHA extensions (for tests).
    init(accelerated: Bool) {
        if !accelerated || !Self.accelerated { fallback = (SHA256(), SHA256()) }
    }

    /// Bytes of the first stream only.
    public mutating func updateFirst(_ bytes: UnsafeRawBufferPointer) {
        if fallback != nil { fallback!.first.update(bufferPointer: bytes); return }
        first.update(bytes)
    }

    /// Bytes of the second stream only.
    public mutating func updateSecond(_ bytes: UnsafeRawBufferPointer) {
        if fallback != nil { fallback!.second.update(bufferPointer: bytes); return }
        second.update(bytes)
    }

    public mutating func updateFirst(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { updateFirst($0) }
    }

    /// The same bytes, next in both streams.
    public mutating func updateBoth(_ bytes: UnsafeRawBufferPointer) {
        if fallback != nil {
            fallback!.first.update(bufferPointer: bytes)
            fallback!.second.update(bufferPointer: bytes)
            return
        }
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else { return }
        // Each stream first completes its partly filled block, then both run block by block from their own offset.
        let a = first.fillBuffer(bytes)
        let b = second.fillBuffer(bytes)
        let blocks = min((bytes.count - a) / 64, (bytes.count - b) / 64)
        if blocks > 0 {
            first.state.withUnsafeMutableBufferPointer { sa in
                second.state.withUnsafeMutableBufferPointer { sb in
                    quiver_sha256_blocks_x2(sa.baseAddress, base + a, sb.baseAddress, base + b, blocks)
                }
            }
            first.length += UInt64(blocks * 64)
            second.length += UInt64(blocks * 64)
        }
        first.update(UnsafeRawBufferPointer(rebasing: bytes[(a + blocks * 64)...]))
        second.update(UnsafeRawBufferPointer(rebasing: bytes[(b + blocks * 64)...]))
    }

    /// The two digests.
    public func finalize() -> (first: SHA256Digest, second: SHA256Digest) {
        if let fallback { return (SHA256Digest(fallback.first.finalize()), SHA256Digest(fallback.second.finalize())) }
        return (first.finalize(), second.finalize())
    }

    /// One stream: the eight working words, the bytes of a partly filled block, and the length so far.
    private struct Stream {
        var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var buffer = [UInt8](repeating: 0, count: 64)
        var buffered = 0
        var length: UInt64 = 0

        /// Tops up a partly filled block from the start of `bytes` (compressing it once full); returns how many
        /// bytes that took. With no partly filled block it takes none.
        mutating func fillBuffer(_ bytes: UnsafeRawBufferPointer) -> Int {
            guard buffered > 0 else { return 0 }
            let take = min(64 - buffered, bytes.count)
            buffer.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[buffered..<(buffered + take)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<take])) }
            buffered += take
            length += UInt64(take)
            if buffered == 64 {
                compressBuffer()
            }
            return take
        }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            var offset = fillBuffer(bytes)
            guard offset < bytes.count, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            let blocks = (bytes.count - offset) / 64
            if blocks > 0 {
                state.withUnsafeMutableBufferPointer { quiver_sha256_blocks($0.baseAddress, base + offset, blocks) }
                offset += blocks * 64
                length += UInt64(blocks * 64)
            }
            let rest = bytes.count - offset
            if rest > 0 {
                buffer.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[0..<rest]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                buffered = rest
                length += UInt64(rest)
            }
        }

        private mutating func compressBuffer() {
            buffer.withUnsafeBufferPointer { block in
                state.withUnsafeMutableBufferPointer { quiver_sha256_blocks($0.baseAddress, block.baseAddress, 1) }
            }
            buffered = 0
        }

        func finalize() -> SHA256Digest {
            var copy = self
            var tail = [UInt8](repeating: 0, count: 128)
            tail.replaceSubrange(0..<buffered, with: buffer[0..<buffered])
            tail[buffered] = 0x80
            let blocks = buffered + 9 <= 64 ? 1 : 2
            let bits = length &* 8
            for i in 0..<8 { tail[blocks * 64 - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
            tail.withUnsafeBufferPointer { t in
                copy.state.withUnsafeMutableBufferPointer { quiver_sha256_blocks($0.baseAddress, t.baseAddress, blocks) }
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(32)
            for word in copy.state { bytes += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)] }
            return SHA256Digest(bytes: bytes)
        }
    }
}
