import CSHA256
import Crypto

/// Two SHA-256 digests of two byte streams that share most of their bytes (a weights file, and the canonical
/// stream that is its tensors with description lines between them), computed in one pass: bytes both streams
/// contain go through both hashers at once. With the x86 SHA extensions the two hashers run interleaved on one
/// core (``quiver_sha256_blocks_x2``), so two digests cost little more than one; elsewhere they are two ordinary
/// hashers. Either way the digests are standard SHA-256 (tested against swift-crypto).
public struct SHA256Pair {
    static let accelerated = quiver_sha256_accelerated() == 1

    private var first = SHA256Stream(), second = SHA256Stream()
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

    /// The second stream's chaining state, at a block boundary with the SHA extensions (nil otherwise): what
    /// ``SHA256Chain`` records.
    public var secondChainingState: [UInt32]? {
        fallback == nil && second.buffered == 0 ? second.state : nil
    }

    /// The two digests.
    public func finalize() -> (first: SHA256Digest, second: SHA256Digest) {
        if let fallback { return (SHA256Digest(fallback.first.finalize()), SHA256Digest(fallback.second.finalize())) }
        return (first.finalize(), second.finalize())
    }
}
