import CSHA256
import Foundation

/// The SHA-256 chaining state after the first `offset` bytes of a file (`offset` a multiple of 64), recorded while
/// the file's digest is computed. With it the digest can be checked again as two halves hashed at once, two
/// dependency chains interleaved on one core (``quiver_sha256_blocks_x2``, ~1.8× the one-stream rate): the first
/// half must arrive at this state, and the second half, continued from it, at the digest. That is exactly the
/// one-stream computation, cut in two, so it accepts exactly the files that hash to the digest.
public struct SHA256Midpoint: Sendable, Equatable {
    public let offset: Int64
    /// The eight working words a..h after `offset` bytes.
    public let state: [UInt32]

    /// Files smaller than this are checked in one stream (two halves would save too little).
    public static let minimumFileSize: Int64 = 1 << 20

    /// Where the midpoint of a file of `size` bytes is taken: half its size, rounded down to a whole block.
    public static func offset(forFileSize size: Int64) -> Int64 { size / 2 / 64 * 64 }

    /// Whether this machine can record and use midpoints (the x86 SHA extensions).
    public static var available: Bool { SHA256Pair.accelerated }

    /// The digest of `bytes` (fed by `stream`, in order, in any pieces) and its midpoint, in one pass of one
    /// stream; the midpoint is nil when the stream is shorter than ``minimumFileSize`` or midpoints are not
    /// ``available`` (then the digest comes from swift-crypto).
    public static func digest(
        size: Int64, _ stream: ((UnsafeRawBufferPointer) -> Void) -> Void
    ) -> (digest: SHA256Digest, midpoint: SHA256Midpoint?) {
        let recorded = SHA256Chain.digest(size: size, stream)
        return (recorded.digest, recorded.midpoint)
    }

    /// Whether this midpoint can check a file of `size` bytes on this machine: a block boundary inside the file,
    /// a whole state, and the SHA extensions.
    public func fits(fileSize size: Int64) -> Bool {
        Self.available && state.count == 8 && offset > 0 && offset % 64 == 0 && offset < size
    }

    /// Re-reads the regular file at `path` (`size` bytes) and returns whether it still hashes to `expected`,
    /// hashing its two halves at once from this midpoint. Throws when the file cannot be read or is not `size`
    /// bytes long.
    public func verify(fileAt path: String, size: Int64, expected: SHA256Digest) throws -> Bool {
        guard fits(fileSize: size) else { throw VerificationError.unusableMidpoint }
        try RegularFile.requireRegular(path)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw VerificationError.unreadable(errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw VerificationError.unreadable(errno) }
        guard Int64(status.st_size) == size else { return false }
        var first = SHA256Stream()
        var second = SHA256Stream(state: state, length: UInt64(offset))
        let chunk = 1 << 20
        let bufferA = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        let bufferB = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { bufferA.deallocate(); bufferB.deallocate() }
        var a: Int64 = 0, b = offset
        while a < offset || b < size {
            let pieceA = try Self.read(descriptor, into: bufferA, at: a, count: Int(min(Int64(chunk), offset - a)))
            let pieceB = try Self.read(descriptor, into: bufferB, at: b, count: Int(min(Int64(chunk), size - b)))
            SHA256Stream.updateTogether(&first, pieceA, &second, pieceB)
            a += Int64(pieceA.count)
            b += Int64(pieceB.count)
        }
        return first.buffered == 0 && first.state == state && second.finalize() == expected
    }

    /// `count` bytes at `offset` (a short file is an error: its size was checked).
    private static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, count: Int) throws
        -> UnsafeRawBufferPointer
    {
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw n < 0 ? VerificationError.unreadable(errno) : VerificationError.shrank }
            done += n
        }
        return UnsafeRawBufferPointer(rebasing: buffer[..<count])
    }

    /// Why a file could not be checked from a midpoint.
    public enum VerificationError: Error, Equatable {
        /// The midpoint does not fit the file (or this machine cannot use midpoints).
        case unusableMidpoint
        /// A read failed (errno).
        case unreadable(Int32)
        /// The file ended early while it was read.
        case shrank
    }
}

extension SHA256Stream {
    /// A stream continued from a chaining state after `length` bytes (a multiple of 64).
    init(state: [UInt32], length: UInt64) {
        self.init()
        self.state = state
        self.length = length
    }

    /// Feeds `x` to `a` and `y` to `b`: their whole blocks side by side, interleaved on one core, while both streams
    /// are at a block boundary; the rest one stream at a time.
    static func updateTogether(_ a: inout SHA256Stream, _ x: UnsafeRawBufferPointer, _ b: inout SHA256Stream, _ y: UnsafeRawBufferPointer) {
        var x = x, y = y
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
