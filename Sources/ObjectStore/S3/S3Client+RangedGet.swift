import Foundation
import QuiverCore
import Synchronization

extension S3Client {
    /// Downloads an object of known `size` into `path` as `settings.partSize` ranges fetched by
    /// `settings.downloadConcurrency` workers, each written in place with `pwrite`, and verifies it against
    /// `expected`; returns the byte count.
    ///
    /// With the blob's `chain` (``SHA256Chain``) each range starts at a recorded state (the part size is rounded up
    /// to whole strides) and is hashed by its own worker as it arrives, checked at every boundary and, for the last
    /// range, against the digest. The strides go two at a time on one core: while the second of a pair arrives, its
    /// bytes are hashed as they are written beside the first's, read back from the file (the SHA-256 rounds of two
    /// streams interleave, so both cost less than two; on two cores shared with a local S3 server the hashing was
    /// what kept the download from the raw rate). Nothing is left to hash once the last byte is in.
    /// When a range does not arrive at its recorded state (wrong bytes, or wrong states), the written file is
    /// hashed in one stream to decide.
    ///
    /// Without a chain another worker hashes the file as its written prefix grows, following the lowest part still
    /// arriving 256 KiB at a time rather than waiting for whole parts (parts finish in batches, and the last batch would
    /// all be hashed after the download), reading back from the page cache while the network is busy, so
    /// verification adds only the tail. A retried part rewrites the same bytes of the same range, so what was hashed
    /// stays valid; anything else fails the digest. Memory stays at curl's buffers, 256 KiB per range to gather
    /// curl's pieces and 256 KiB to read back.
    ///
    /// Any failed part, an object of another size (`.corruptBlob`, from the first answer's Content-Range) or a
    /// digest mismatch (`.corruptBlob`) fails the whole read and removes the file.
    func getObjectRanged(key: String, size: Int64, to path: String, expected: SHA256Digest, location: String,
                         chain: SHA256Chain? = nil) throws -> Int64
    {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ObjectStoreError.io("cannot create", path, errno: errno) }
        defer { close(fd) }
        // The ranges' disk writes are started on a thread of its own, never on the workers (below the close).
        let writeback = WritebackQueue(fd: fd)
        defer { writeback.finish() }
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
            let target = RangeTarget(key: key, size: size, fd: fd, path: path, digest: expected, location: location,
                                     writeback: writeback)
            if let chain, chain.fits(fileSize: size) {
                return (try downloadCheckedRanges(target, chain: chain), size)
            }
            return (try downloadRanges(target), size)
        } commit: {
            writeback.finish()
            guard fsync(fd) == 0 else { throw ObjectStoreError.io("cannot fsync", path, errno: errno) }
        }
    }

    /// Fetches the ranges while another worker hashes the completed prefix (``ParallelMap``); returns the file's
    /// digest once every range is in. The first failure (a range, or reading the file back) stops everyone and is
    /// the error thrown: ranges in flight abandon their transfers.
    private func downloadRanges(_ target: RangeTarget) throws -> SHA256Digest {
        let partSize = max(settings.partSize, 1 << 20)
        let state = RangeProgress(count: Int((target.size + partSize - 1) / partSize))
        do {
            let (digest, _) = try ParallelMap.both({
                do {
                    return try Self.hashWrittenPrefix(fd: target.fd, path: target.path, size: target.size, partSize: partSize,
                                                      state: state)
                } catch {
                    state.fail(error)
                    throw error
                }
            }, { [self] in
                _ = try fetchRanges(target, partSize: partSize, state: state, segment: { _ in nil })
            })
            guard let digest else { throw ObjectStoreError(.io, "the download finished without a digest") }
            return digest
        } catch {
            // The first failure in time is the cause; later ones (parts abandoned because of it) are consequences.
            throw state.firstError ?? error
        }
    }

    /// Fetches ranges of whole strides, each verified by its worker against `chain` as it arrives; returns the
    /// expected digest when every range passed, else the written file's digest, hashed in one stream.
    private func downloadCheckedRanges(_ target: RangeTarget, chain: SHA256Chain) throws -> SHA256Digest {
        let partSize = (max(settings.partSize, 1 << 20) + chain.stride - 1) / chain.stride * chain.stride
        let state = RangeProgress(count: Int((target.size + partSize - 1) / partSize))
        let passed: Bool
        do {
            passed = try fetchRanges(target, partSize: partSize, state: state) { offset in
                // A range's strides are checked two at a time, the first read back from the file while the second
                // arrives (its bytes are what the file holds; a file changed under the download fails its range).
                let (fd, path, size) = (target.fd, target.path, target.size)
                return chain.segment(from: offset, to: min(offset + partSize, size), fileSize: size, expected: target.digest,
                                     readBack: SHA256ChainReadBack { try Self.readBack(fd: fd, path: path, at: $0, into: $1) })
            }
        } catch {
            throw state.firstError ?? error
        }
        if passed { return target.digest }
        return try Self.hashFile(fd: target.fd, path: target.path, size: target.size)
    }

    /// Fetches every range on `settings.downloadConcurrency` workers, each checked by `segment(offset)` when that
    /// gives a checker; returns whether every checked range passed. The first failure stops the others.
    private func fetchRanges(_ target: RangeTarget, partSize: Int64, state: RangeProgress,
                             segment: @Sendable (Int64) -> SHA256ChainSegment?) throws -> Bool
    {
        let count = Int((target.size + partSize - 1) / partSize)
        let refused = Atomic<Bool>(false)
        _ = try ParallelMap.run(count: count, workers: settings.downloadConcurrency) { index in
            let offset = Int64(index) * partSize
            let range = offset..<min(offset + partSize, target.size)
            do {
                // Another range or the hashing failed: start no more transfers.
                if state.hasFailed { throw ObjectStoreError(.io, "download abandoned after another part failed") }
                if try !getRange(target, part: index, range: range, state: state, segment: segment(offset)) {
                    refused.store(true, ordering: .relaxed)
                }
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
        return !refused.load(ordering: .relaxed)
    }

    /// One range into its place in the file, retried as a whole by `send`. The answer must be HTTP 206 with exactly
    /// that range of an object of `total` bytes, checked before its first byte is written: under a content address,
    /// an object of another size is not the blob (`.corruptBlob`), and a server that ignores Range is told apart.
    /// Returns whether the range passed its `segment` check (true without one).
    private func getRange(_ target: RangeTarget, part: Int, range: Range<Int64>, state: RangeProgress,
                          segment: SHA256ChainSegment?) throws -> Bool
    {
        let (key, total, digest, location) = (target.key, target.size, target.digest, target.location)
        let full = objectKey(key)
        let expected = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(total)"
        let check = { @Sendable (status: Int, contentRange: String) throws in
            guard status == 206, contentRange == expected else {
                if let slash = contentRange.lastIndex(of: "/"), let stored = Int64(contentRange[contentRange.index(after: slash)...]),
                   stored != total
                {
                    throw ObjectStoreError.sizeDiffers(digest, stored: stored, expected: total, at: location)
                }
                throw ObjectStoreError(
                    .serverError,
                    "GET \(self.describe(full)) for \(expected) answered HTTP \(status) with Content-Range \"\(contentRange)\"",
                    hint: "the server does not honour Range requests; raise the multipart threshold to read in one stream")
            }
        }
        let sink = PositionalFileSink(fd: target.fd, path: target.path, writeback: target.writeback, part: part, range: range, state: state,
                                      segment: segment, check: check)
        let response: HTTPResponse
        do {
            response = try getObject(key: key, range: range, sink: sink)
        } catch let error as ObjectStoreError where error.kind == .rangeNotSatisfiable {
            // The range starts past the stored object's end: it is shorter than the blob.
            throw ObjectStoreError.sizeDiffers(digest, stored: nil, expected: total, at: location)
        }
        try check(response.status, response.headers["content-range"] ?? "")
        guard sink.count == Int64(range.count) else {
            throw ObjectStoreError(.serverError, "GET \(describe(full)) for \(expected) delivered \(sink.count) bytes",
                                   hint: "the transfer was cut short; retry the read")
        }
        return sink.segment?.passed(through: range.upperBound) ?? true
    }

    /// Fills `buffer` with the file's bytes at `offset` (written earlier by the same range).
    private static func readBack(fd: Int32, path: String, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let read: Int
        do throws(PositionalReadError) {
            read = try PositionalRead.fill(buffer, from: fd, at: offset)
        } catch {
            throw ObjectStoreError.io("cannot read back", path, errno: error.errno)
        }
        guard read == buffer.count else {
            throw ObjectStoreError(.io, "\(path) shrank while it was being downloaded",
                                   hint: "do not modify a file while a blob is being written to it")
        }
    }

    /// The file's digest, read back in one stream (a checked download whose ranges did not all pass).
    private static func hashFile(fd: Int32, path: String, size: Int64) throws -> SHA256Digest {
        let state = RangeProgress(count: 1)
        state.wrote(0, upTo: size)
        guard let digest = try hashWrittenPrefix(fd: fd, path: path, size: size, partSize: size, state: state) else {
            throw ObjectStoreError(.io, "the download finished without a digest")
        }
        return digest
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
                let piece = UnsafeMutableRawBufferPointer(start: buffer, count: Int(min(Int64(bufferSize), end - hashed)))
                try readBack(fd: fd, path: path, at: hashed, into: piece)
                hasher.update(UnsafeRawBufferPointer(piece))
                hashed += Int64(piece.count)
            }
        }
        return hasher.finalize()
    }
}

/// What a ranged download fetches and where it goes.
private struct RangeTarget: Sendable {
    let key: String
    let size: Int64
    let fd: Int32
    let path: String
    let digest: SHA256Digest
    let location: String
    let writeback: WritebackQueue
}

/// Writes one range of a download at its offset in the shared file; a retry rewrites the range from its start.
///
/// curl's pieces are gathered into 256 KiB (``PieceGatherer``) and written, hashed and read back for their pair in
/// that unit: each `pwrite` of the shared file takes the inode's lock. Four writers of 200 MiB
/// in 16 KiB writes took 110–134 ms of CPU, in 256 KiB writes 53–59 ms (ext4, kernel 6.18; docs/benchmarks.md).
private final class PositionalFileSink: ResponseSink {
    private let fd: Int32
    private let path: String
    private let writeback: WritebackQueue
    private let part: Int
    private let range: Range<Int64>
    private let state: RangeProgress
    private let check: (_ status: Int, _ contentRange: String) throws -> Void
    /// Bytes of the range received, written or not.
    private(set) var count: Int64 = 0
    /// Bytes of the range from its start written to the file (and hashed).
    private var written: Int64 = 0
    /// Bytes of the range from its start whose disk write was started.
    private var flushed: Int64 = 0
    /// Received bytes not yet written, the range's from `written` on.
    private let pieces = PieceGatherer()
    /// Hashes the range as it is written, from its recorded start state (checked downloads).
    private(set) var segment: SHA256ChainSegment?

    init(fd: Int32, path: String, writeback: WritebackQueue, part: Int, range: Range<Int64>, state: RangeProgress,
         segment: SHA256ChainSegment?, check: @escaping (_ status: Int, _ contentRange: String) throws -> Void)
    {
        self.fd = fd
        self.path = path
        self.writeback = writeback
        self.part = part
        self.range = range
        self.state = state
        self.segment = segment
        self.check = check
    }

    static let writebackStep: Int64 = 2 << 20

    func reset() {
        count = 0
        written = 0
        flushed = 0
        pieces.discard()
        segment?.reset()
    }

    /// The answer is checked before its first byte lands in the file.
    func begin(status: Int, headers: [String: String]) throws {
        try check(status, headers["content-range"] ?? "")
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        // Another part failed: stop this transfer now instead of finishing a download that will be thrown away.
        if state.hasFailed { throw ObjectStoreError(.io, "download abandoned after another part failed") }
        guard count + Int64(bytes.count) <= Int64(range.count), bytes.baseAddress != nil else {
            if bytes.isEmpty { return }
            throw ObjectStoreError(
                .serverError, "the server sent more than the \(range.count) bytes of range \(range.lowerBound)-\(range.upperBound - 1)",
                hint: "the server does not honour Range requests; raise the multipart threshold to read in one stream")
        }
        count += Int64(bytes.count)
        try pieces.add(bytes, flush: writeOut)
        if count == Int64(range.count) { try pieces.drain(writeOut) }
    }

    /// Writes gathered bytes at their place, hashes them while they are still in the cache, and starts their disk
    /// write every few MiB.
    private func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        do throws(PositionalWriteError) {
            try PositionalWrite.all(bytes, to: fd, at: range.lowerBound + written)
        } catch {
            throw ObjectStoreError.io("cannot write", path, errno: error.errno)
        }
        try segment?.update(bytes)
        written += Int64(bytes.count)
        // The disk write starts every few MiB, beside the bytes still arriving, and for the range's tail when it is
        // complete: the fsync at the end waits only for the last few MiB, not for the last whole ranges. It is
        // started on the queue's thread: submitting blocks to a busy disk can take milliseconds.
        if written - flushed >= Self.writebackStep || written == Int64(range.count) {
            writeback.submit(offset: range.lowerBound + flushed, length: written - flushed)
            flushed = written
        }
        state.wrote(part, upTo: written)
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
