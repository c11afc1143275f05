import Foundation
import QuiverCore

/// A store of content-addressed blobs: each blob lives under the key `sha256/<hex>` of its own bytes.
///
/// Every method **blocks the calling thread** (file and network I/O through libcurl or POSIX calls). From async
/// code use the `async` overloads in `BlobStore+Async.swift`, which run the call on QuiverCore's
/// ``BlockingExecutor/shared`` so Swift's cooperative threads (about one per core) are never held by I/O.
/// Conforming types are safe to use from many threads at once.
public protocol BlobStore: Sendable {
    /// Where the store lives, for messages (`s3://bucket/prefix`, `file:///var/quiver/blobs`).
    var location: String { get }

    /// Stores the file's bytes under their digest, streaming from disk (the file is never loaded into memory).
    ///
    /// When `digest` is nil it is computed by reading the file first. Storing a blob that is already present
    /// (same digest, same size) writes nothing and reports `alreadyPresent`. A digest passed in is checked while
    /// the bytes go out: a file that does not hash to it (changed after hashing, wrong digest) throws `.corruptBlob`
    /// and leaves nothing under the key (local: the temporary file is removed; S3: the multipart upload is aborted,
    /// or the single PUT's body is cut short and any partial object the server kept is deleted).
    func put(fileAt url: URL, digest: SHA256Digest?) throws -> PutResult

    /// The same, given the file's SHA-256 chain recorded when `digest` was computed: a store that re-reads the file
    /// to check it checks its strides on every core (``SHA256Chain/verify(fileAt:size:expected:workers:)``). With a
    /// `lease` on the file taken before it was hashed (``FileLease``), a store need not re-read it while the lease
    /// stands. Stores that do not re-read the file ignore both.
    func put(fileAt url: URL, digest: SHA256Digest?, chain: SHA256Chain?, lease: FileLease?) throws -> PutResult

    /// Stores bytes already in memory (small blobs: configs, manifests).
    func put(data: Data) throws -> PutResult

    /// Stores exactly `size` bytes read from `source` under `digest`, hashing them as they pass (an HTTP upload
    /// going straight to the store).
    ///
    /// Memory stays bounded: S3 sends a blob up to `multipartThreshold` as one PUT whose body is pulled from the
    /// source as curl sends it, and a larger one as a multipart upload of parts read one after the other into
    /// `uploadConcurrency` reusable buffers (about `uploadConcurrency × partSize` bytes); nothing touches the local
    /// disk. A local store writes a temporary file in its own folder and renames it into place.
    ///
    /// Nothing is left under the key when the bytes do not hash to `digest` (`.corruptBlob`), or when the source
    /// ends before `size` bytes or has more (`.sizeMismatch`, kind invalid input): the last byte is withheld until
    /// both are checked, the single PUT is cut short and any partial object the server kept is deleted, a multipart
    /// upload is aborted, a temporary file removed. An error thrown by the source itself is rethrown after the same
    /// clean-up.
    ///
    /// **Already present** (a blob of the same size under the key): nothing is uploaded, but the source is still
    /// read to its end and verified, so the store never acknowledges a digest the caller did not send; a mismatch
    /// throws as above and the stored blob stays. The result then says `alreadyPresent`.
    ///
    /// **Retries:** a multipart part is retried from its buffer like any request. The single PUT's body cannot be
    /// read twice: it is retried only when no byte was taken from the source yet (connection refused); after that
    /// a failure throws `.unreachable` (kind unavailable) saying the upload must be sent again.
    func put(from source: any ByteSource, size: Int64, digest: SHA256Digest) throws -> PutResult

    /// Streams the blob into `fileURL` (created or truncated), hashing as it arrives.
    ///
    /// `known` is what the caller knows of the blob (the catalog records every version's sizes, and the weights'
    /// chaining states): a store that would otherwise ask for the size first (S3: a HEAD, to choose between one
    /// stream and parallel ranges) starts the download at once, and a stored object of another size is
    /// `.corruptBlob`, found before its bytes are read. With a chain, parallel ranges are each verified as they
    /// arrive (``SHA256Chain``). Pass nil when nothing is known.
    ///
    /// Throws `ObjectStoreError` with kind `.corruptBlob` when the bytes do not hash to `digest`, and removes the
    /// partial file on any failure. Returns the blob's size.
    @discardableResult
    func get(digest: SHA256Digest, known: KnownBlob?, to fileURL: URL) throws -> Int64

    /// The blob's bytes, verified against `digest` (`.corruptBlob` on mismatch).
    func getData(digest: SHA256Digest) throws -> Data

    /// Streams the blob, or `range` of it, into `sink` as it arrives, without a file, and returns the number of
    /// bytes delivered.
    ///
    /// `range` is half-open and clamped to the blob's size; a non-empty range that starts at or past the end
    /// throws `.rangeNotSatisfiable` (kind invalid input), an empty one at or before the end delivers nothing. A
    /// ranged read is **unverified** (see ``getRange(digest:range:)``). A whole-blob read (`range` nil) is hashed
    /// and throws `.corruptBlob` at the end when the bytes did not match: the sink has already seen them, so a
    /// caller streaming to a client must treat that as a failed transfer (abort the response). Throws `.notFound`
    /// when the blob is absent; an error thrown by `sink` stops the transfer and is rethrown.
    ///
    /// A transfer that fails before any byte reached the sink is retried; after that it cannot be (the sink cannot
    /// take bytes back) and throws `.unreachable`.
    @discardableResult
    func get(digest: SHA256Digest, range: Range<Int64>?, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64

    /// Bytes `range` of the blob (half-open, in bytes).
    ///
    /// **Unverified by nature**: a part of a blob cannot be checked against the whole blob's digest. Use it for
    /// headers (a safetensors header) or resumable reads, and verify the whole blob elsewhere when it matters.
    func getRange(digest: SHA256Digest, range: Range<Int64>) throws -> Data

    /// The blob's size and modification time, or nil when it is absent.
    func head(digest: SHA256Digest) throws -> BlobInfo?

    /// Whether the store answers now: one quick request, without the retries that ride out an outage (a readiness
    /// probe must answer in about a second, not after the retry window).
    func probe() throws

    /// Removes the blob; removing an absent blob is not an error (deletes are idempotent, as in S3).
    func delete(digest: SHA256Digest) throws

    /// One page of blobs whose hex digest starts with `hexPrefix`, in key order.
    ///
    /// Pass the previous page's `continuation` to get the next; `maxKeys` bounds the page size (S3 caps it at 1000).
    func listPage(hexPrefix: String, continuation: String?, maxKeys: Int) throws -> BlobPage

    /// Every unfinished upload under the store's blob keys, in no particular order: open S3 multipart
    /// uploads, or a local store's temporary files (see ``PendingUpload``).
    func pendingUploads() throws -> [PendingUpload]

    /// Aborts an unfinished upload and frees what it holds; an upload already gone is not an error.
    ///
    /// Aborting an upload that a live writer is still sending makes that writer's `put` fail; callers pass only
    /// uploads older than a grace period no writer runs for.
    func abort(_ upload: PendingUpload) throws

    /// A URL from which anyone holding it may GET the blob's bytes directly from the store for `expires`
    /// seconds (an S3 presigned URL on `endpoint`, or the store's own endpoint), or nil when the store has no such
    /// thing (a local directory). The bytes are not verified on that path: whoever downloads checks the digest.
    func downloadURL(digest: SHA256Digest, expires: Int, endpoint: URL?) throws -> String?
}

/// What `put` did.
public struct PutResult: Sendable, Equatable {
    /// The blob's content address.
    public var digest: SHA256Digest
    /// Its size in bytes.
    public var size: Int64
    /// True when the blob was already stored and nothing was written.
    public var alreadyPresent: Bool

    public init(digest: SHA256Digest, size: Int64, alreadyPresent: Bool) {
        self.digest = digest
        self.size = size
        self.alreadyPresent = alreadyPresent
    }
}

/// A stored blob as listed or HEADed: its digest, size and last modification (the GC's age test uses it).
public struct BlobInfo: Sendable, Equatable {
    public var digest: SHA256Digest
    public var size: Int64
    public var lastModified: Date

    public init(digest: SHA256Digest, size: Int64, lastModified: Date) {
        self.digest = digest
        self.size = size
        self.lastModified = lastModified
    }
}

/// What a reader knows of a blob before reading it (from the catalog): its size, and its chaining states when
/// they were recorded.
public struct KnownBlob: Sendable, Equatable {
    public var size: Int64
    public var chain: SHA256Chain?

    public init(size: Int64, chain: SHA256Chain? = nil) {
        self.size = size
        self.chain = chain
    }
}

/// One page of a listing.
public struct BlobPage: Sendable, Equatable {
    /// The blobs on this page, in key order.
    public var blobs: [BlobInfo]
    /// The token for the next page; nil on the last page.
    public var continuation: String?

    public init(blobs: [BlobInfo], continuation: String?) {
        self.blobs = blobs
        self.continuation = continuation
    }
}

extension BlobStore {
    public func probe() throws { _ = try head(digest: SHA256Digest.of([UInt8]())) }

    /// Stores the file, computing its digest first.
    public func put(fileAt url: URL) throws -> PutResult { try put(fileAt: url, digest: nil) }

    public func put(fileAt url: URL, digest: SHA256Digest?, chain: SHA256Chain?, lease: FileLease?) throws -> PutResult {
        try put(fileAt: url, digest: digest)
    }

    /// ``put(fileAt:digest:chain:lease:)`` without a lease.
    public func put(fileAt url: URL, digest: SHA256Digest?, chain: SHA256Chain?) throws -> PutResult {
        try put(fileAt: url, digest: digest, chain: chain, lease: nil)
    }

    /// Streams the blob into `fileURL`, verified, knowing nothing of it beforehand (see ``get(digest:known:to:)``).
    @discardableResult
    public func get(digest: SHA256Digest, to fileURL: URL) throws -> Int64 {
        try get(digest: digest, known: nil, to: fileURL)
    }

    /// True when the blob is present.
    public func exists(digest: SHA256Digest) throws -> Bool { try head(digest: digest) != nil }

    /// No direct URL: the bytes are read through the store.
    public func downloadURL(digest: SHA256Digest, expires: Int, endpoint: URL?) throws -> String? { nil }

    /// Every blob whose hex digest starts with `hexPrefix`, following continuation tokens page by page.
    public func list(hexPrefix: String = "", pageSize: Int = 1000) throws -> [BlobInfo] {
        var all: [BlobInfo] = []
        var token: String?
        repeat {
            let page = try listPage(hexPrefix: hexPrefix, continuation: token, maxKeys: pageSize)
            all += page.blobs
            token = page.continuation
        } while token != nil
        return all
    }
}
