import Foundation
import QuiverCore
import Synchronization

extension S3Client {
    /// Downloads an object of known `size` into `path` as `settings.partSize` ranges fetched by
    /// `settings.downloadConcurrency` workers, each written in place with `pwrite`, and verifies it against
    /// `expected`; returns the byte count.
    ///
    /// Another worker hashes the file as its written prefix grows, following the lowest part still arriving byte by
    /// byte rather than waiting for whole parts (parts finish in batches, and the last batch would all be hashed
    /// after the download), reading back from the page cache while the network is busy, so verification adds only
    /// the tail. A retried part rewrites the same bytes of the same range, so what was hashed stays valid; anything
    /// else fails the digest. Memory stays at curl's buffers plus one read buffer. Any failed
    /// part, a size that changes under us, or a digest mismatch (`.corruptBlob`) fails the whole read and removes
    /// the file.
    func getObjectRanged(key: String, size: Int64, to path: String, expected: SHA256Digest, location: String) throws
        -> Int64
    {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ObjectStoreError.io("cannot create", path, errno: errno) }
        defer { close(fd) }
        return try VerifiedRead.toFile(expected, path: path, location: location) {
            // The file's blocks are allocated up front where the file system can (ext4, XFS, tmpfs): the ranges'
            // writes then find their blocks mapped instead of each reserving them under the inode's lock, which the
            // four writers otherwise contend for, and a disk without room fails now, not a gigabyte later. Where
            // the file system cannot, the file is sized sparse (`fallocate`, unlike `posix_fallocate`, never falls
            // back to writing zeros).
            let allocated = FileAllocation.reserve(fd: fd, length: size)
            if allocated == ENOSPC || allocated == EDQUOT {
                throw ObjectStoreError.io("cannot allocate \(size) bytes for", path, errno: allocated)
            }
            if allocated != 0 {
                guard ftruncate(fd, off_t(size)) == 0 else { throw ObjectStoreError.io("cannot size", path, errno: errno) }
            }
            return (try downloadRanges(key: key, size: size, fd: fd, path: path), size)
        } commit: {
            guard fsync(fd) == 0 else { throw ObjectStoreError.io("cannot fsync", path, errno: errno) }
        }
    }

    /// Fetches the ranges on `settings.downloadConcurrency` workers while another worker hashes the completed
    /// prefix (``ParallelMap``); returns the file's digest once every range is in. The first failure (a range, or
    /// reading the file back) stops everyone and is the error thrown: ranges in flight abandon their transfers.
    private func downloadRanges(key: String, size: Int64, fd: Int32, path: String) throws -> SHA256Digest {
        let partSize = max(settings.partSize, 1 << 20)
        let count = Int((size + partSize - 1) / partSize)
        let state = RangeProgress(count: count)
        do {
            let (digest, _) = try ParallelMap.both({
                do {
                    return try Self.hashWrittenPrefix(fd: fd, path: path, size: size, partSize: partSize, state: state)
                } catch {
                    state.fail(error)
                    throw error
                }
            }, { [self] in
                try ParallelMap.run(count: count, workers: settings.downloadConcurrency) { index in
                    let offset = Int64(index) * partSize
                    let range = offset..<min(offset + partSize, size)
                    do {
                        // Another range or the hashing failed: start no more transfers.
                        if state.hasFailed { throw ObjectStoreError(.io, "download abandoned after another part failed") }
                        try getRange(key: key, part: index, range: range, total: size, fd: fd, path: path, state: state)
                        // The disk write of this part starts now, beside the parts still arriving; the fsync
                        // at the end waits only for what is left.
                        FileWriteback.start(fd: fd, offset: range.lowerBound, length: Int64(range.count))
                        state.partFinished()
                    } catch {
                        let failure = (error as? ObjectStoreError).map {
                            ObjectStoreError(
                                $0.kind, "part \(index + 1) of \(count) (bytes \(range.lowerBound)-\(range.upperBound - 1)): \($0.reason)",
                                hint: $0.hint)
                        } ?? error
                        state.fail(failure)
                        throw failure
                    }
                }
            })
            guard let digest else { throw ObjectStoreError(.io, "the download finished without a digest") }
            return digest
        } catch {
            // The first failure in time is the cause; later ones (parts abandoned because of it) are consequences.
            throw state.firstError ?? error
        }
    }

    /// One range into its place in the file, retried as a whole by `send`; checks that the server answered with
    /// exactly that range of an object of the expected total size.
    private func getRange(key: String, part: Int, range: Range<Int64>, total: Int64, fd: Int32, path: String,
                          state: RangeProgress) throws
    {
        let sink = PositionalFileSink(fd: fd, path: path, part: part, range: range, state: state)
        let response = try getObject(key: key, range: range, sink: sink)
        let full = objectKey(key)
        let expected = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(total)"
        let contentRange = response.headers["content-range"] ?? ""
        guard response.status == 206, contentRange == expected else {
            throw ObjectStoreError(
                .serverError,
                "GET \(describe(full)) for \(expected) answered HTTP \(response.status) with Content-Range \"\(contentRange)\"",
                hint: contentRange.hasSuffix("/\(total)") || contentRange.isEmpty
                    ? "the server does not honour Range requests; raise the multipart threshold to read in one stream"
                    : "the object changed size while it was being read; retry the read")
        }
        guard sink.count == Int64(range.count) else {
            throw ObjectStoreError(.serverError, "GET \(describe(full)) for \(expected) delivered \(sink.count) bytes",
                                   hint: "the transfer was cut short; retry the read")
        }
    }

    /// Hashes parts from the file in order as they complete; nil when a worker failed (its error is the result).
    private static func hashWrittenPrefix(fd: Int32, path: String, size: Int64, partSize: Int64,
                                            state: RangeProgress) throws -> SHA256Digest?
    {
        var hasher = SHA256Hasher()
        let bufferSize = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var hashed: Int64 = 0
        while hashed < size {
            guard let end = state.waitForWritten(after: hashed, partSize: partSize, size: size) else { return nil }
            while hashed < end {
                let n = pread(fd, buffer, Int(min(Int64(bufferSize), end - hashed)), off_t(hashed))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw n < 0 ? ObjectStoreError.io("cannot read back", path, errno: errno)
                        : ObjectStoreError(.io, "\(path) shrank while it was being downloaded",
                                           hint: "do not modify a file while a blob is being written to it")
                }
                hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
                hashed += Int64(n)
            }
        }
        return hasher.finalize()
    }
}

/// Writes one range of a download at its offset in the shared file; a retry rewrites the range from its start.
private final class PositionalFileSink: ResponseSink {
    private let fd: Int32
    private let path: String
    private let part: Int
    private let range: Range<Int64>
    private let state: RangeProgress
    private(set) var count: Int64 = 0

    init(fd: Int32, path: String, part: Int, range: Range<Int64>, state: RangeProgress) {
        self.fd = fd
        self.path = path
        self.part = part
        self.range = range
        self.state = state
    }

    func reset() { count = 0 }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        // Another part failed: stop this transfer now instead of finishing a download that will be thrown away.
        if state.hasFailed { throw ObjectStoreError(.io, "download abandoned after another part failed") }
        guard count + Int64(bytes.count) <= Int64(range.count), let base = bytes.baseAddress else {
            if bytes.isEmpty { return }
            throw ObjectStoreError(
                .serverError, "the server sent more than the \(range.count) bytes of range \(range.lowerBound)-\(range.upperBound - 1)",
                hint: "the server does not honour Range requests; raise the multipart threshold to read in one stream")
        }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(range.lowerBound + count + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io("cannot write", path, errno: errno)
            }
            done += n
        }
        count += Int64(bytes.count)
        state.wrote(part, upTo: count)
    }
}

/// How far each range is written, and the first failure (which stops everyone). The hashing worker sleeps on
/// `wake`, signalled every MiB a range grows by, on every completion and on failure.
private final class RangeProgress: Sendable {
    private struct State {
        /// Bytes of each part written from its start, the most any attempt wrote (a retry rewrites the same bytes).
        var written: [Int64]
        var error: (any Error)?
    }
    private let state: Mutex<State>
    private let failed = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    init(count: Int) { state = Mutex(State(written: Array(repeating: 0, count: count))) }

    var hasFailed: Bool { failed.load(ordering: .relaxed) }

    /// The first failure recorded, if any.
    var firstError: (any Error)? { state.withLock { $0.error } }

    /// A part is complete (its last bytes may not have crossed a MiB since the last signal).
    func partFinished() {
        wake.signal()
    }

    /// Part `index` has its first `count` bytes written.
    func wrote(_ index: Int, upTo count: Int64) {
        let crossed = state.withLock { s -> Bool in
            let before = s.written[index]
            guard count > before else { return false }
            s.written[index] = count
            return before >> 20 != count >> 20
        }
        if crossed { wake.signal() }
    }

    func fail(_ error: any Error) {
        state.withLock { if $0.error == nil { $0.error = error } }
        failed.store(true, ordering: .relaxed)
        wake.signal()
    }

    /// Blocks until the file is written past `offset` (every byte before it is); returns where that written run
    /// ends (parts of `partSize` bytes, the last one shorter, of a file of `size`), or nil on failure.
    func waitForWritten(after offset: Int64, partSize: Int64, size: Int64) -> Int64? {
        while true {
            let (end, failed) = state.withLock { s -> (Int64, Bool) in
                var part = Int(offset / partSize)
                var end = offset
                while part < s.written.count {
                    let start = Int64(part) * partSize
                    end = max(end, start + s.written[part])
                    guard s.written[part] == min(partSize, size - start) else { break }
                    part += 1
                }
                return (end, s.error != nil)
            }
            if failed { return nil }
            if end > offset { return end }
            wake.wait()
        }
    }
}
