import Foundation
import QuiverCore

/// Writes a download to a file while hashing it, so verification needs no second pass.
///
/// curl's pieces are hashed as they come and gathered into 256 KiB writes (``PieceGatherer``: one `write` per
/// 16 KiB cost a 200 MiB file about 45 % more CPU in the kernel). The file holds every byte only after ``sync()``.
final class HashingFileSink: ResponseSink {
    let path: String
    private let fd: Int32
    private(set) var hasher = SHA256Hasher()
    /// Bytes received.
    private(set) var count: Int64 = 0
    /// Bytes written to the file; the rest are gathered in `pieces`.
    private var written: Int64 = 0
    private let pieces = PieceGatherer()
    /// Where the disk write was last started: every 8 MiB written starts the next, on the queue's thread.
    private var writebackStart: Int64 = 0
    private let writeback: WritebackQueue

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ObjectStoreError.io("cannot create", path, errno: errno) }
        writeback = WritebackQueue(fd: fd)
    }

    deinit {
        writeback.finish()
        close(fd)
    }

    func reset() throws {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw ObjectStoreError.io("cannot truncate", path, errno: errno)
        }
        hasher = SHA256Hasher()
        count = 0
        written = 0
        pieces.discard()
        writebackStart = 0
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        count += Int64(bytes.count)
        try pieces.add(bytes, flush: writeOut)
    }

    private func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        do throws(PositionalWriteError) {
            try PositionalWrite.all(bytes, to: fd)
        } catch {
            throw ObjectStoreError.io("cannot write", path, errno: error.errno)
        }
        written += Int64(bytes.count)
        if written - writebackStart >= 8 << 20 {
            writeback.submit(offset: writebackStart, length: written - writebackStart)
            writebackStart = written
        }
    }

    /// Writes what is gathered and flushes the file to disk (a verified download should survive a crash right
    /// after it).
    func sync() throws {
        try pieces.drain(writeOut)
        writeback.finish()
        guard fsync(fd) == 0 else { throw ObjectStoreError.io("cannot fsync", path, errno: errno) }
    }
}

/// Gathers a download's pieces before they are written: curl hands a body over in pieces of at most 16 KiB
/// (`CURL_MAX_WRITE_SIZE`, whatever its receive buffer), and a write per piece costs a system call, the inode's lock
/// and a page-cache folio of the piece's size. Whole 256 KiB go to `flush` instead; a piece that size or larger
/// arriving with nothing gathered goes as it is. The file sinks (``HashingFileSink``, the ranged download's) share it.
final class PieceGatherer {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes gathered, not yet flushed.
    private(set) var count = 0

    init(capacity: Int = 256 << 10) {
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Takes `bytes`, handing the buffer to `flush` each time it fills (emptied once `flush` returns).
    func add(_ bytes: UnsafeRawBufferPointer, flush: (UnsafeRawBufferPointer) throws -> Void) throws {
        if count == 0, bytes.count >= buffer.count {
            try flush(bytes)
            return
        }
        var taken = 0
        while taken < bytes.count {
            let n = min(buffer.count - count, bytes.count - taken)
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[taken..<(taken + n)]))
            count += n
            taken += n
            if count == buffer.count { try drain(flush) }
        }
    }

    /// Hands what is gathered to `flush`, if anything, and empties the buffer.
    func drain(_ flush: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard count > 0 else { return }
        try flush(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        count = 0
    }

    /// Forgets what is gathered (a transfer starting over).
    func discard() { count = 0 }
}

/// Collects a download in memory while hashing it.
final class HashingDataSink: ResponseSink {
    private(set) var data = Data()
    private(set) var hasher = SHA256Hasher()

    func reset() {
        data = Data()
        hasher = SHA256Hasher()
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bytes)
        data.append(contentsOf: bytes)
    }
}

/// Hands a download to a caller's closure as it arrives, hashing it when asked (a whole-blob read).
///
/// Once a byte went out the transfer cannot be retried (``canRestart``): the caller cannot take it back. For a
/// ranged read, `window` is the range asked for: a 206 must start at its first byte, and a server that ignores
/// Range (200, the whole object) is cut to the window here, the transfer stopped with ``EnoughBytes`` once it is
/// delivered.
final class ForwardingSink: ResponseSink {
    private let deliver: (UnsafeRawBufferPointer) throws -> Void
    private let hashing: Bool
    private let window: Range<Int64>?
    private(set) var hasher = SHA256Hasher()
    private(set) var delivered: Int64 = 0
    /// Bytes still to drop before delivering, and the most to deliver (a 200 answer to a ranged request).
    private var skip: Int64 = 0
    private var limit: Int64 = .max

    /// Thrown from `write` once a window cut from a whole-object answer is delivered: stops the transfer, which
    /// the caller then treats as complete.
    struct EnoughBytes: Error {}

    init(hashing: Bool, window: Range<Int64>? = nil, deliver: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.hashing = hashing
        self.window = window
        self.deliver = deliver
    }

    var canRestart: Bool { delivered == 0 }

    func reset() {
        hasher = SHA256Hasher()
        skip = 0
        limit = .max
    }

    func begin(status: Int, headers: [String: String]) throws {
        guard let window else { return }
        if status == 200 {
            skip = window.lowerBound
            limit = Int64(window.count)
        } else if status == 206 {
            let range = headers["content-range"] ?? ""
            guard range.hasPrefix("bytes \(window.lowerBound)-") else {
                throw ObjectStoreError(.serverError, "a ranged GET from byte \(window.lowerBound) was answered with Content-Range \"\(range)\"",
                                       hint: "the server does not honour Range requests correctly")
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var bytes = bytes
        if skip > 0 {
            let dropped = Int(min(skip, Int64(bytes.count)))
            bytes = UnsafeRawBufferPointer(rebasing: bytes[dropped...])
            skip -= Int64(dropped)
        }
        let take = Int(min(Int64(bytes.count), limit - delivered))
        if take > 0 {
            let part = UnsafeRawBufferPointer(rebasing: bytes[0..<take])
            if hashing { hasher.update(part) }
            try deliver(part)
            delivered += Int64(take)
        }
        if delivered == limit { throw EnoughBytes() }
    }
}
