import Foundation
import QuiverCore
import Synchronization

/// Content-addressed blobs in an S3 bucket (optionally under a prefix): `s3://bucket/prefix/sha256/<hex>`.
///
/// Uploads stream from disk (multipart above `settings.multipartThreshold`), downloads stream to disk while
/// hashing (parallel ranges above the same threshold), every full read is verified. All methods block; see ``BlobStore``.
public final class S3BlobStore: BlobStore {
    /// The raw client, for bucket set-up and tools that need object access.
    public let client: S3Client

    /// Set once the bucket is known to exist, so only the first absent blob costs a second request.
    private let bucketSeen = Mutex(false)

    public init(settings: S3Settings) { client = S3Client(settings: settings) }

    public var location: String { client.settings.displayURL }

    public func put(fileAt url: URL, digest: SHA256Digest?) throws -> PutResult {
        try put(fileAt: url, digest: digest, chain: nil, lease: nil)
    }

    /// See ``BlobStore/put(fileAt:digest:chain:lease:)``: a multipart upload checks each part's bytes against the
    /// chain as they go out when one is given with the digest, unless the lease given with them stands, else hashes
    /// the file again while they go out (``S3Client/putObjectMultipart(key:path:size:expected:chain:lease:)``).
    public func put(fileAt url: URL, digest: SHA256Digest?, chain: SHA256Chain?, lease: FileLease?) throws -> PutResult {
        let path = url.path
        var info = stat()
        guard stat(path, &info) == 0 else { throw ObjectStoreError.io("cannot stat", path, errno: errno) }
        let size = Int64(info.st_size)
        // The key is the digest, so it must be known before the first byte goes out: hash first when not given.
        let declared = digest
        let digest = try digest ?? SHA256Digest.ofFile(at: url)
        if let existing = try head(digest: digest), existing.size == size {
            return PutResult(digest: digest, size: size, alreadyPresent: true)
        }
        let key = BlobKey.key(for: digest)
        if size > client.settings.multipartThreshold {
            try client.putObjectMultipart(key: key, path: path, size: size, expected: digest,
                                          chain: declared == nil ? nil : chain, lease: declared == nil ? nil : lease)
        } else {
            // The payload hash is the blob's digest: AWS rejects a body that differs from what we claim. Other servers
            // (SeaweedFS) neither check it nor drop a body cut short, and store what arrived, so a digest passed in is
            // checked before sending (a small re-read, usually from the page cache), and again while sending against a
            // file changed in between: that rarer mismatch aborts the body and removes what the server kept.
            if declared != nil {
                let actual = try SHA256Digest.ofFile(at: url)
                guard actual == digest else {
                    throw ObjectStoreError(
                        .corruptBlob, "\(path) hashes to \(actual.hex), not to sha256/\(digest.hex) it is being stored as",
                        hint: "the file changed after it was hashed, or the digest passed in is wrong; nothing was uploaded")
                }
            }
            do {
                try client.putObject(
                    key: key, body: .file(path: path, offset: 0, length: size, expected: digest), payloadHash: digest.hex)
            } catch let error as ObjectStoreError where error.kind == .corruptBlob || error.kind == .sizeMismatch {
                // The body was cut short: the file no longer hashes to its digest, or changed size.
                discardUnlessIntact(digest)
                throw error
            }
        }
        return PutResult(digest: digest, size: size, alreadyPresent: false)
    }

    /// See ``BlobStore/put(from:size:digest:)``: a multipart upload from reusable part buffers (one part when the
    /// body is small), whatever `settings.multipartThreshold` says; only an empty body is one PUT.
    public func put(from source: any ByteSource, size: Int64, digest: SHA256Digest) throws -> PutResult {
        guard size >= 0 else {
            throw ObjectStoreError(.sizeMismatch, "a blob cannot have \(size) bytes", hint: "declare the body's real size")
        }
        if let existing = try head(digest: digest), existing.size == size {
            try VerifiedSourceReader(source: source, size: size, expected: digest).drain()
            return PutResult(digest: digest, size: size, alreadyPresent: true)
        }
        let key = BlobKey.key(for: digest)
        // A streamed body comes from someone else (an HTTP client) and is verified only at its end: it goes up as a
        // multipart upload, one part when small, so nothing is visible under the key before CompleteMultipartUpload,
        // which is sent only once the digest matched. A cut-short single PUT can leave an object behind that some
        // servers (SeaweedFS) create after the client gave up, too late for any clean-up to see.
        if size > 0 {
            try client.putObjectMultipart(key: key, source: source, size: size, expected: digest)
        } else {
            let reader = VerifiedSourceReader(source: source, size: size, expected: digest)
            try reader.drain()  // curl pulls nothing for an empty body: check it here
            do {
                // Signed with the declared digest as payload hash: AWS itself also refuses a body that differs.
                try client.putObject(key: key, body: .source(reader), payloadHash: digest.hex)
            } catch {
                // The body was cut short (a mismatch, the source failing, the connection dropping) or the server
                // failed after it: whatever it kept must not stay under the key.
                if reader.consumed > 0 { discardUnlessIntact(digest) }
                throw error
            }
        }
        return PutResult(digest: digest, size: size, alreadyPresent: false)
    }

    /// Some servers (SeaweedFS) keep the bytes of a body that was cut short, as an object. After an aborted put the
    /// key is read back (streamed and hashed, not held) and deleted unless it holds the right content (a concurrent
    /// correct writer's blob stays).
    private func discardUnlessIntact(_ digest: SHA256Digest) {
        do {
            _ = try get(digest: digest, range: nil) { _ in }
        } catch let error as ObjectStoreError where error.kind == .corruptBlob {
            try? client.deleteObject(key: BlobKey.key(for: digest))
        } catch {
            // Absent or unreachable: nothing we can remove now; reads verify, and a later put replaces a short object.
        }
    }

    public func put(data: Data) throws -> PutResult {
        let digest = SHA256Digest.of(data)
        let size = Int64(data.count)
        if let existing = try head(digest: digest), existing.size == size {
            return PutResult(digest: digest, size: size, alreadyPresent: true)
        }
        try client.putObject(key: BlobKey.key(for: digest), body: .data(data), payloadHash: digest.hex)
        return PutResult(digest: digest, size: size, alreadyPresent: false)
    }

    /// Blobs above `settings.multipartThreshold` come down as parallel ranges (see
    /// `S3Client.getObjectRanged`), smaller ones as one stream; both are verified before returning.
    @discardableResult
    public func get(digest: SHA256Digest, known: KnownBlob?, to fileURL: URL) throws -> Int64 {
        let key = BlobKey.key(for: digest)
        // The size decides the path. Unless the caller knows it, it costs one HEAD round trip.
        let size: Int64
        if let known {
            size = known.size
        } else {
            guard let info = try client.headObject(key: key) else {
                throw ObjectStoreError(.notFound, "GET \(client.describe(client.objectKey(key))) → HTTP 404: no blob sha256/\(digest.hex)")
            }
            size = info.size
        }
        if size > client.settings.multipartThreshold {
            return try client.getObjectRanged(key: key, size: size, to: fileURL.path, expected: digest, location: location,
                                              chain: known?.chain)
        }
        return try VerifiedRead.toFile(digest, fileURL, location: location) {
            _ = try client.getObject(key: key, sink: $0)
        }
    }

    /// One GET streamed into `sink` (never parallel ranges: the sink takes the bytes in order). See
    /// ``BlobStore/get(digest:range:into:)``.
    @discardableResult
    public func get(digest: SHA256Digest, range: Range<Int64>?, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let key = BlobKey.key(for: digest)
        if let range, range.isEmpty || range.lowerBound < 0 {
            // Nothing to transfer; only whether the range is possible at all.
            guard let info = try client.headObject(key: key) else {
                throw ObjectStoreError(.notFound, "HEAD \(client.describe(client.objectKey(key))) → HTTP 404: no blob sha256/\(digest.hex)")
            }
            guard range.lowerBound >= 0, range.lowerBound <= info.size else {
                throw ObjectStoreError.rangeNotSatisfiable(range, digest, size: info.size)
            }
            return 0
        }
        return try withoutActuallyEscaping(sink) { sink in
            let forward = ForwardingSink(hashing: range == nil, window: range, deliver: sink)
            do {
                _ = try client.getObject(key: key, range: range, sink: forward)
            } catch is ForwardingSink.EnoughBytes {
                // A server that ignored Range sent the whole object; the window was cut from it.
            }
            if let range {
                guard forward.delivered > 0 else { throw ObjectStoreError.rangeNotSatisfiable(range, digest, size: nil) }
                return forward.delivered
            }
            let actual = forward.hasher.finalize()
            guard actual == digest else { throw ObjectStoreError.corrupt(digest, actual: actual, at: location) }
            return forward.delivered
        }
    }

    public func getData(digest: SHA256Digest) throws -> Data {
        try VerifiedRead.toData(digest, location: location) {
            _ = try client.getObject(key: BlobKey.key(for: digest), sink: $0)
        }
    }

    public func getRange(digest: SHA256Digest, range: Range<Int64>) throws -> Data {
        guard !range.isEmpty else { return Data() }
        let sink = DataSink()
        let response = try client.getObject(key: BlobKey.key(for: digest), range: range, sink: sink)
        // A server that ignores Range answers 200 with the whole object: cut the requested slice out.
        if response.status == 200, sink.data.count > range.count {
            let start = Int(min(range.lowerBound, Int64(sink.data.count)))
            let end = Int(min(range.upperBound, Int64(sink.data.count)))
            return sink.data.subdata(in: start..<end)
        }
        return sink.data
    }

    /// One HEAD with at most one quick retry (about a second in all), for readiness probes.
    public func probe() throws {
        _ = try client.headObject(key: BlobKey.key(for: SHA256Digest.of([UInt8]())),
                                  retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.1, maxDelay: 0.2, maxTotal: 1))
    }

    public func head(digest: SHA256Digest) throws -> BlobInfo? {
        let key = BlobKey.key(for: digest)
        guard let found = try client.headObject(key: key) else {
            // A HEAD's 404 has no body to say whether the key or the whole bucket is missing: ask the bucket once.
            if !bucketSeen.withLock({ $0 }) {
                guard try client.bucketExists() else { throw client.bucketMissingError(method: "HEAD", key: client.objectKey(key)) }
                bucketSeen.withLock { $0 = true }
            }
            return nil
        }
        return BlobInfo(digest: digest, size: found.size, lastModified: found.lastModified)
    }

    public func downloadURL(digest: SHA256Digest, expires: Int, endpoint: URL?) throws -> String? {
        try client.presignedURL(objectKey: client.objectKey(BlobKey.key(for: digest)), expires: expires, endpoint: endpoint)
    }

    public func delete(digest: SHA256Digest) throws {
        try client.deleteObject(key: BlobKey.key(for: digest))
    }

    public func listPage(hexPrefix: String, continuation: String?, maxKeys: Int) throws -> BlobPage {
        let hexPrefix = hexPrefix.lowercased()
        guard BlobKey.isValidHexPrefix(hexPrefix) else {
            throw ObjectStoreError(.configuration, "\(hexPrefix) is not a hex digest prefix")
        }
        let page = try client.listObjects(keyPrefix: BlobKey.folder + hexPrefix, continuation: continuation, maxKeys: maxKeys)
        let blobs = page.objects.compactMap { object in
            BlobKey.digest(fromKey: Substring(object.key)).map {
                BlobInfo(digest: $0, size: object.size, lastModified: object.lastModified)
            }
        }
        return BlobPage(blobs: blobs, continuation: page.continuation)
    }

    /// Open multipart uploads under the store's blob keys (`<prefix>/sha256/`), every page of them.
    public func pendingUploads() throws -> [PendingUpload] {
        try client.listAllMultipartUploads(keyPrefix: BlobKey.folder).map {
            PendingUpload(key: $0.key, uploadID: $0.uploadID, started: $0.initiated)
        }
    }

    public func abort(_ upload: PendingUpload) throws {
        try client.abortMultipartUpload(key: upload.key, uploadID: upload.uploadID)
    }

    /// Creates the bucket unless it exists (tests, the demo, first-run set-up).
    public func createBucketIfMissing() throws { try client.createBucketIfMissing() }
}
