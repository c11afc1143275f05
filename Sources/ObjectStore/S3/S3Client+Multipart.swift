import Foundation
import QuiverCore
import Synchronization

extension S3Client {
    /// Uploads a file as a multipart upload: initiate, parts streamed from the file by
    /// `settings.uploadConcurrency` workers (``ParallelMap``), then complete. Any failure aborts the upload, so no
    /// orphaned parts are left on the server, and is rethrown.
    ///
    /// Parts are sent as `UNSIGNED-PAYLOAD` and S3 never sees the whole object's sha256, so the bytes are checked
    /// on the way and the upload is completed only when they hash to `expected`; otherwise it is aborted with
    /// `.corruptBlob`. This catches both a wrong digest passed in and a file changed after it was hashed:
    /// - with a `chain` (recorded when `expected` was computed), each part is checked once it went out, by the
    ///   worker that sent it while the other workers send theirs: its strides read again and hashed from the
    ///   states recorded at their starts, two interleaved on one core, must arrive at the states recorded at
    ///   their ends, the file's last stride at the digest (``SHA256Chain/verify(fileAt:size:expected:strides:workers:)``).
    ///   Whatever bytes a part sent were the file's at the time, so a part whose file region still hashes as
    ///   recorded after it went out was sent as hashed (unless it was changed and changed back in between). Parts
    ///   are then whole multiples of the chain's stride. A part refused aborts the upload and the file is hashed in
    ///   one stream: a file that no longer hashes to `expected` is `.corruptBlob` naming what it hashes to; one
    ///   that still does (wrong states refuse a good file, never pass a bad one) is uploaded again the way below;
    /// - without one (a machine without the SHA extensions), by another worker while the parts go out, in one
    ///   stream, which catches a change only if it comes before that worker reads the bytes.
    ///
    /// With a `lease` on the file taken before `expected` and `chain` were computed (``FileLease``) and still intact
    /// when the upload starts, the parts are not read again to check: each is sent from the leased file (device and
    /// inode compared when it is opened) and, after the last, the upload is completed if the lease still stands, as
    /// nobody can have opened the file for writing since it was hashed. A lease broken on the way (a writer came)
    /// has every part checked against the chain as above, on all the workers at once, before anything is completed.
    func putObjectMultipart(
        key: String, path: String, size: Int64, expected: SHA256Digest, chain: SHA256Chain? = nil, lease: FileLease? = nil
    ) throws {
        if let chain, chain.fits(fileSize: size), let (partSize, count) = try partLayout(size: size, of: path, strideOf: chain) {
            let checking: PartCheck = if let lease, lease.isIntact { .leased(lease, chain) } else { .eachPart(chain) }
            do {
                try withMultipartUpload(key: key) { uploadID in
                    try uploadParts(key: key, uploadID: uploadID, path: path, size: size, partSize: partSize, count: count,
                                    expected: expected, checking: checking)
                }
                return
            } catch let error as ObjectStoreError where error.kind == .corruptBlob {
                let actual = try oneStreamDigest(of: path)
                guard actual == expected else { throw mismatch(path, actual: actual, expected: expected, key: objectKey(key)) }
            }
        }
        let (partSize, count) = try partLayout(size: size, of: path)
        try withMultipartUpload(key: key) { uploadID in
            try uploadParts(key: key, uploadID: uploadID, path: path, size: size, partSize: partSize, count: count,
                            expected: expected, checking: .alongside)
        }
    }

    /// How ``uploadParts(key:uploadID:path:size:partSize:count:expected:checking:)`` checks that the file it sends
    /// hashes to its digest.
    private enum PartCheck {
        /// Each part's strides against the file's chain, by the worker that sent the part, once it went out.
        case eachPart(SHA256Chain)
        /// The whole file in one stream, by another worker while the parts go out.
        case alongside
        /// None while the lease on the file stands (it was taken before the file was hashed); every part against the
        /// chain, after the last went out, if it broke on the way.
        case leased(FileLease, SHA256Chain)
    }

    /// Uploads exactly `size` bytes read from `source` as a multipart upload whose parts are read one after the
    /// other into `settings.uploadConcurrency` reusable part buffers and sent by as many workers (``ParallelMap``),
    /// so memory stays at about `uploadConcurrency × partSize`. The bytes are hashed as they are read; the last
    /// part is read only once the source is seen to end and the digest matches, so a wrong or mis-sized body is
    /// never completed: the upload is aborted and `.corruptBlob` or `.sizeMismatch` thrown (or the source's error).
    /// A failed part is retried from its buffer.
    func putObjectMultipart(key: String, source: any ByteSource, size: Int64, expected: SHA256Digest) throws {
        let (partSize, count) = try partLayout(size: size, of: "the body for sha256/\(expected.hex)")
        let feeder = PartFeeder(source: source, size: size, expected: expected, partSize: Int(min(partSize, size)))
        try withMultipartUpload(key: key) { uploadID in
            let full = objectKey(key)
            do {
                let parts = try ParallelMap.run(count: count, workers: settings.uploadConcurrency) { [self] _ in
                    let (number, buffer) = try feeder.next()
                    defer { feeder.recycle(buffer) }
                    do {
                        let etag = try uploadPart(objectKey: full, uploadID: uploadID, number: number, body: .data(buffer.bytes))
                        return PartETag(number: number, etag: etag)
                    } catch {
                        feeder.fail(error)
                        throw error
                    }
                }
                return parts.sorted { $0.number < $1.number }.map(\.etag)
            } catch {
                // The first failure in time is the cause (a short body, a wrong digest, a refused part); workers
                // that stopped because of it fail with a consequence.
                throw feeder.firstError ?? error
            }
        }
    }

    /// The part size (`settings.partSize`, at least S3's 5 MiB) and the number of parts of an object of `size` bytes.
    private func partLayout(size: Int64, of what: String) throws -> (partSize: Int64, count: Int) {
        try partLayout(size: size, partSize: max(settings.partSize, 5 << 20), of: what)
    }

    /// The same with the part size rounded up to a multiple of `chain`'s stride, so that every part starts at one
    /// of its boundaries; nil when that exceeds S3's largest part (5 GiB).
    private func partLayout(size: Int64, of what: String, strideOf chain: SHA256Chain) throws -> (partSize: Int64, count: Int)? {
        let minimum = max(settings.partSize, 5 << 20)
        let partSize = (minimum + chain.stride - 1) / chain.stride * chain.stride
        guard partSize <= 5 << 30 else { return nil }
        return try partLayout(size: size, partSize: partSize, of: what)
    }

    private func partLayout(size: Int64, partSize: Int64, of what: String) throws -> (partSize: Int64, count: Int) {
        let count = Int((size + partSize - 1) / partSize)
        guard count <= 10_000 else {
            throw ObjectStoreError(.configuration, "\(what) needs \(count) parts of \(partSize) bytes; S3 allows 10000",
                                   hint: "raise the multipart part size")
        }
        return (partSize, count)
    }

    /// Initiates a multipart upload, runs `upload` (which returns the parts' ETags in order) and completes it; any
    /// failure aborts the upload, so no orphaned parts are left on the server, and is rethrown.
    private func withMultipartUpload(key: String, _ upload: (String) throws -> [String]) throws {
        let uploadID = try initiateMultipartUpload(key: key)
        do {
            let etags = try upload(uploadID)
            try completeMultipartUpload(key: key, uploadID: uploadID, etags: etags)
        } catch {
            try? abortMultipartUpload(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Starts a multipart upload of `key` (relative to the prefix) and returns its upload ID.
    public func initiateMultipartUpload(key: String) throws -> String {
        let full = objectKey(key)
        let initiated = try send("POST", objectKey: full, query: [("uploads", "")], body: .data(Data()))
        guard (200..<300).contains(initiated.status) else { throw failure(initiated, key: full, method: "POST uploads") }
        guard let uploadID = XMLScan.value("UploadId", in: Substring(String(decoding: initiated.body, as: UTF8.self))),
              !uploadID.isEmpty
        else {
            throw ObjectStoreError(.serverError, "InitiateMultipartUpload for \(describe(full)) returned no UploadId")
        }
        return uploadID
    }

    /// Uploads part `number` (1-based) of an open multipart upload and returns its ETag.
    public func uploadPart(key: String, uploadID: String, number: Int, data: Data) throws -> String {
        try uploadPart(objectKey: objectKey(key), uploadID: uploadID, number: number, body: .data(data))
    }

    func uploadPart(objectKey full: String, uploadID: String, number: Int, body: HTTPRequest.Body) throws -> String {
        let response = try send("PUT", objectKey: full, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                body: body, payloadHash: SigV4Signer.unsignedPayload)
        guard (200..<300).contains(response.status) else {
            throw failure(response, key: full, method: "PUT part \(number)")
        }
        guard let etag = response.headers["etag"], !etag.isEmpty else {
            throw ObjectStoreError(.serverError, "part \(number) of \(describe(full)) came back without an ETag")
        }
        return etag
    }

    /// Aborts a multipart upload, freeing its parts; an upload already gone (404 NoSuchUpload) is not an error.
    public func abortMultipartUpload(key: String, uploadID: String) throws {
        let full = objectKey(key)
        let response = try send("DELETE", objectKey: full, query: [("uploadId", uploadID)])
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, key: full, method: "AbortMultipartUpload")
        }
    }

    /// Uploads the parts on `settings.uploadConcurrency` workers and returns the ETags in part order; the upload
    /// fails (`.corruptBlob`) unless the file checks out against `expected` as `checking` says (``PartCheck``). The
    /// first failing part (or a digest mismatch) stops the handing out of further parts; parts already in flight
    /// finish. A failed verification is the error reported, else the lowest failed part's.
    private func uploadParts(
        key: String, uploadID: String, path: String, size: Int64, partSize: Int64, count: Int,
        expected: SHA256Digest, checking: PartCheck
    ) throws -> [String] {
        let full = objectKey(key)
        let verificationFailed = Atomic<Bool>(false)
        // Runs a check of the file; should it fail (the file does not hash as it should, or cannot be read), no
        // further parts are handed out, and its error is rethrown.
        @Sendable func stoppingTheUploadOnFailure(_ check: () throws -> Void) throws {
            do {
                try check()
            } catch {
                verificationFailed.store(true, ordering: .releasing)
                throw error
            }
        }
        let send: @Sendable () throws -> [String] = { [self] in
            try ParallelMap.run(count: count, workers: settings.uploadConcurrency) { index in
                // The file does not hash to its digest: send no more parts (the upload is aborted).
                if verificationFailed.load(ordering: .acquiring) {
                    throw ObjectStoreError(.io, "upload abandoned after \(path) failed verification")
                }
                let offset = Int64(index) * partSize
                let length = min(partSize, size - offset)
                let identity: FileIdentity? = if case .leased(let lease, _) = checking { lease.identity } else { nil }
                let etag = try uploadPart(objectKey: full, uploadID: uploadID, number: index + 1,
                                          body: .file(path: path, offset: offset, length: length, identity: identity))
                if case .eachPart(let chain) = checking {
                    let stride = chain.stride
                    let strides = Int(offset / stride)..<Int((offset + length + stride - 1) / stride)
                    try stoppingTheUploadOnFailure {
                        let passed: Bool
                        do {
                            passed = try chain.verify(fileAt: path, size: size, expected: expected, strides: strides, workers: 1)
                        } catch {
                            throw unhashable(path, error)
                        }
                        guard passed else {
                            throw ObjectStoreError(
                                .corruptBlob, "bytes \(offset)..<\(offset + length) of \(path) no longer hash as they did when the file was hashed",
                                hint: "the file changed after it was hashed; the upload was aborted")
                        }
                    }
                }
                return etag
            }
        }
        if case .leased(let lease, let chain) = checking {
            let etags = try send()
            if lease.isIntact { return etags }
            // A writer opened the file while the parts went out: the bytes sent must still be the file's, every one.
            let passed: Bool
            do {
                passed = try chain.verify(fileAt: path, size: size, expected: expected, workers: settings.uploadConcurrency)
            } catch {
                throw unhashable(path, error)
            }
            guard passed else {
                throw ObjectStoreError(.corruptBlob, "\(path) no longer hashes as it did when it was hashed: it was written to while it was being uploaded",
                                       hint: "the file changed after it was hashed; the upload was aborted")
            }
            return etags
        }
        guard case .alongside = checking else { return try send() }
        let (_, etags) = try ParallelMap.both({ [self] in
            try stoppingTheUploadOnFailure {
                let actual = try oneStreamDigest(of: path)
                guard actual == expected else { throw mismatch(path, actual: actual, expected: expected, key: full) }
            }
        }, send)
        return etags
    }

    /// The file's digest in one stream; `.io` when it cannot be read.
    private func oneStreamDigest(of path: String) throws -> SHA256Digest {
        do {
            return try SHA256Digest.ofFile(at: URL(fileURLWithPath: path))
        } catch {
            throw unhashable(path, error)
        }
    }

    private func unhashable(_ path: String, _ error: any Error) -> ObjectStoreError {
        ObjectStoreError(.io, "cannot hash \(path) while uploading it: \(error.localizedDescription)",
                         hint: "do not move or modify files while storing them")
    }

    private func mismatch(_ path: String, actual: SHA256Digest, expected: SHA256Digest, key full: String) -> ObjectStoreError {
        ObjectStoreError(
            .corruptBlob,
            "\(path) hashes to \(actual.hex), not to sha256/\(expected.hex) it is being stored as in \(describe(full))",
            hint: "the file changed after it was hashed, or the digest passed in is wrong; the upload was aborted")
    }

    private func completeMultipartUpload(key: String, uploadID: String, etags: [String]) throws {
        let full = objectKey(key)
        var xml = "<CompleteMultipartUpload>"
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(XMLScan.escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Data(xml.utf8)
        let response = try send("POST", objectKey: full, query: [("uploadId", uploadID)],
                                headers: [("content-type", "application/xml")], body: .data(body),
                                payloadHash: SHA256Digest.of(body).hex)
        // S3 may answer 200 and still fail: the error then arrives in the body.
        let text = Substring(String(decoding: response.body, as: UTF8.self))
        guard (200..<300).contains(response.status), !text.contains("<Error>") else {
            var failed = response
            if failed.status < 300 { failed.status = 500 }
            throw failure(failed, key: full, method: "CompleteMultipartUpload")
        }
    }
}

private struct PartETag: Sendable {
    var number: Int
    var etag: String
}

/// One part's bytes.
///
/// `@unchecked Sendable`: a buffer belongs to one worker at a time. ``PartFeeder`` hands it out filled (or keeps it
/// in its spare list, under its lock) and takes it back after the part was sent; nothing touches it in between but
/// that worker.
private final class PartBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    var count = 0

    init(capacity: Int) { storage = .allocate(byteCount: capacity, alignment: 64) }
    deinit { storage.deallocate() }

    /// The filled bytes, not copied: valid while the buffer lives and is not refilled.
    var bytes: Data { Data(bytesNoCopy: storage.baseAddress!, count: count, deallocator: .none) }
}

/// Hands out the parts of a streamed multipart upload: reads them from the source one after the other (under a
/// lock, numbered in reading order) into buffers that are reused, so at most one buffer per upload worker exists.
/// Remembers the first failure of any worker; after it, no more bytes are read.
private final class PartFeeder: Sendable {
    private struct Reading {
        let reader: VerifiedSourceReader
        var nextNumber = 1
    }

    private let reading: Mutex<Reading>
    private let spare = Mutex<[PartBuffer]>([])
    private let failure = Mutex<(any Error)?>(nil)
    private let partSize: Int

    init(source: any ByteSource, size: Int64, expected: SHA256Digest, partSize: Int) {
        reading = Mutex(Reading(reader: VerifiedSourceReader(source: source, size: size, expected: expected)))
        self.partSize = partSize
    }

    /// The first failure recorded, if any.
    var firstError: (any Error)? { failure.withLock { $0 } }

    func fail(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = error } }
    }

    /// Reads the next part into a buffer; give the buffer back with ``recycle(_:)``.
    func next() throws -> (number: Int, buffer: PartBuffer) {
        let buffer = spare.withLock { $0.popLast() } ?? PartBuffer(capacity: partSize)
        do {
            let number = try reading.withLock { state throws -> Int in
                // Another part failed: read nothing more (the upload is being aborted).
                if failure.withLock({ $0 != nil }) {
                    throw ObjectStoreError(.io, "multipart upload abandoned after another part failed")
                }
                buffer.count = try state.reader.fill(buffer.storage)
                guard buffer.count > 0 else {
                    throw ObjectStoreError(.io, "part \(state.nextNumber) of a streamed upload has no bytes left to send")
                }
                state.nextNumber += 1
                return state.nextNumber - 1
            }
            return (number, buffer)
        } catch {
            recycle(buffer)
            fail(error)
            throw error
        }
    }

    func recycle(_ buffer: PartBuffer) {
        buffer.count = 0
        spare.withLock { $0.append(buffer) }
    }
}
