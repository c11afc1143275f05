import Foundation
import QuiverCore

/// A blocking source of bytes (a request body as it arrives, a pipe). `read` blocks until at least one byte is
/// available, copies up to `buffer.count` bytes and returns how many; it returns 0 only at the end of the stream.
///
/// A store calls `read` from one thread at a time, never concurrently, but not always from the same thread (a
/// multipart upload reads its parts on whichever upload worker is free). Errors thrown by `read` (a client that
/// went away) are rethrown unchanged by the store, after it has removed what it had started to store.
public protocol ByteSource: AnyObject, Sendable {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Pulls exactly `size` bytes out of a ``ByteSource`` (or a file region being uploaded), hashing them on the way;
/// the one place where bytes on their way into a store are checked against the digest they are stored under.
///
/// The read that reaches `size` bytes first makes sure the source has ended (one more read must return 0) and that
/// the bytes hash to `expected`. When either fails it throws instead of returning its bytes, so a consumer that
/// forwards each read (curl's read callback, a part buffer, a temporary file) never passes on the last byte of a
/// blob that is too long or wrong. A source that ends early throws on the read that finds the end. The first
/// failure is kept: every later read throws it again.
///
/// Not thread-safe: one reader at a time (the multipart uploader serializes its workers' reads under a lock).
public final class VerifiedSourceReader {
    let size: Int64
    let expected: SHA256Digest
    /// Bytes taken from the source so far.
    private(set) var consumed: Int64 = 0
    /// True once all `size` bytes were read, the source was seen to end, and the digest matched.
    private(set) var isVerified = false
    /// The first failure (the source's own error, a size or digest mismatch).
    private(set) var failure: (any Error)?
    private let pull: (UnsafeMutableRawBufferPointer) throws -> Int
    /// What the bytes are, for messages: "the body for sha256/…", or a file's path.
    private let subject: String
    private let mismatchHint: String
    private let sizeHint: String
    private var hasher = SHA256Hasher()

    /// Reads a client's stream.
    convenience init(source: any ByteSource, size: Int64, expected: SHA256Digest) {
        self.init(size: size, expected: expected, subject: "the body for sha256/\(expected.hex)",
                  mismatchHint: "the digest does not match the bytes sent; nothing was stored",
                  sizeHint: "send exactly the declared number of bytes; nothing was stored", pull: source.read(into:))
    }

    /// Reads whatever `pull` delivers (same contract as ``ByteSource/read(into:)``); `subject` names the bytes in
    /// messages, the hints go with a digest and a size mismatch.
    init(size: Int64, expected: SHA256Digest, subject: String, mismatchHint: String, sizeHint: String,
         pull: @escaping (UnsafeMutableRawBufferPointer) throws -> Int)
    {
        self.size = size
        self.expected = expected
        self.subject = subject
        self.mismatchHint = mismatchHint
        self.sizeHint = sizeHint
        self.pull = pull
    }

    /// Copies the next bytes into `buffer` and returns how many; 0 once all `size` bytes were delivered and
    /// verified. Throws `.sizeMismatch` or `.corruptBlob` (see the type's comment) or the source's own error.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let failure { throw failure }
        do {
            return try readUnchecked(into: buffer)
        } catch {
            failure = error
            throw error
        }
    }

    /// Fills `buffer` completely unless the blob ends first; returns the byte count (0 at the end).
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads (and discards) everything left, verifying it: a blob already stored still has its body checked, so
    /// nobody can make a store acknowledge a digest they did not send.
    func drain() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}  // the read that returns 0 has verified (also for size 0)
    }

    private func readUnchecked(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard consumed < size else {
            if !isVerified { try verifyEnd() }
            return 0
        }
        let want = Int(min(Int64(buffer.count), size - consumed))
        guard want > 0 else { return 0 }
        let n = try pull(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        guard n > 0 else {
            throw ObjectStoreError(
                .sizeMismatch, "\(subject) ended after \(consumed) of the \(size) bytes declared", hint: sizeHint)
        }
        guard n <= want else {
            throw ObjectStoreError(.io, "a byte source returned \(n) bytes for a buffer of \(want)",
                                   hint: "a ByteSource must copy at most buffer.count bytes")
        }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        consumed += Int64(n)
        if consumed == size { try verifyEnd() }
        return n
    }

    /// The source must end exactly here, and what came must hash to `expected`.
    private func verifyEnd() throws {
        var probe: UInt8 = 0
        let extra = try withUnsafeMutableBytes(of: &probe) { try pull($0) }
        guard extra == 0 else {
            throw ObjectStoreError(
                .sizeMismatch, "\(subject) has more than the \(size) bytes declared", hint: sizeHint)
        }
        let actual = hasher.finalize()
        guard actual == expected else {
            throw ObjectStoreError(.corruptBlob, "\(subject) hashes to \(actual.hex), not to sha256/\(expected.hex) it is being stored as",
                                   hint: mismatchHint)
        }
        isVerified = true
    }
}
