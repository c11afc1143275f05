import CSHA256

/// One SHA-256 stream on the x86 SHA extensions (callers check ``SHA256Pair/accelerated`` first): the eight working
/// words, the bytes of a partly filled block, and the length so far. Its chaining state can be read at a block
/// boundary and a stream started from one (``SHA256Chain``).
struct SHA256Stream {
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

extension SHA256Stream {
    /// A stream continued from a chaining state after `length` bytes (a multiple of 64).
    init(state: [UInt32], length: UInt64) {
        self.init()
        self.state = state
        self.length = length
    }

    /// Feeds `x` to `a` and `y` to `b`: each stream first completes its partly filled block from its own bytes, then
    /// their whole blocks go side by side, interleaved on one core, and the rest one stream at a time. Two streams
    /// fed pieces of equal lengths stay in step, so every piece after the first runs interleaved, whatever its
    /// length.
    static func updateTogether(_ a: inout SHA256Stream, _ x: UnsafeRawBufferPointer, _ b: inout SHA256Stream, _ y: UnsafeRawBufferPointer) {
        var x = UnsafeRawBufferPointer(rebasing: x[a.fillBuffer(x)...])
        var y = UnsafeRawBufferPointer(rebasing: y[b.fillBuffer(y)...])
        if a.buffered == 0, b.buffered == 0, let px = x.baseAddress, let py = y.baseAddress {
            let blocks = min(x.count, y.count) / 64
            if blocks > 0 {
                a.state.withUnsafeMutableBufferPointer { sa in
                    b.state.withUnsafeMutableBufferPointer { sb in
                        quiver_sha256_blocks_x2(sa.baseAddress, px.assumingMemoryBound(to: UInt8.self), sb.baseAddress,
                                                py.assumingMemoryBound(to: UInt8.self), blocks)
                    }
                }
                a.length += UInt64(blocks * 64)
                b.length += UInt64(blocks * 64)
                x = UnsafeRawBufferPointer(rebasing: x[(blocks * 64)...])
                y = UnsafeRawBufferPointer(rebasing: y[(blocks * 64)...])
            }
        }
        a.update(x)
        b.update(y)
    }
}
