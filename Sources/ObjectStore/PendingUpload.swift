import Foundation

/// An upload a writer started and never finished: an open S3 multipart upload (whose parts occupy storage until
/// it is aborted), or a local store's temporary file.
///
/// A crashed or killed process leaves these behind; the registry's garbage collector lists them and aborts those
/// older than its grace period (see ``BlobStore/pendingUploads()`` and ``BlobStore/abort(_:)``).
public struct PendingUpload: Sendable, Equatable, Codable {
    /// The key being written, relative to the store (`sha256/<hex>`), or the temporary file's name.
    public var key: String
    /// What names the upload to its store: the S3 upload ID, or the temporary file's name.
    public var uploadID: String
    /// When it was started (S3 `Initiated`) or last written to (a temporary file's modification time).
    public var started: Date
    /// Bytes held so far, when the store knows without extra requests (local temporary files); nil for S3.
    public var size: Int64?

    public init(key: String, uploadID: String, started: Date, size: Int64? = nil) {
        self.key = key
        self.uploadID = uploadID
        self.started = started
        self.size = size
    }
}

/// The result of ``BlobStore/sweepPendingUploads(olderThan:dryRun:)``.
public struct PendingUploadSweep: Sendable, Equatable {
    /// Uploads started before the cutoff: aborted, or in a dry run, that would be.
    public var aborted: [PendingUpload]
    /// Uploads started at or after the cutoff, left alone (a writer may still be working on them).
    public var keptYoung: Int

    public init(aborted: [PendingUpload], keptYoung: Int) {
        self.aborted = aborted
        self.keptYoung = keptYoung
    }
}

extension BlobStore {
    /// Aborts every pending upload started before `cutoff` (only lists them when `dryRun`).
    ///
    /// An upload that disappears between the listing and the abort (its writer finished or aborted it) is not an
    /// error: aborts are idempotent.
    public func sweepPendingUploads(olderThan cutoff: Date, dryRun: Bool = false) throws -> PendingUploadSweep {
        var aborted: [PendingUpload] = []
        var young = 0
        for upload in try pendingUploads() {
            guard upload.started < cutoff else { young += 1; continue }
            if !dryRun { try abort(upload) }
            aborted.append(upload)
        }
        return PendingUploadSweep(aborted: aborted, keptYoung: young)
    }
}
