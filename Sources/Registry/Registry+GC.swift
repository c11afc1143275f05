import Foundation
import ObjectStore
import Postgres
import QuiverCore

/// What `gc` found and did.
public struct GCReport: Sendable, Codable, Equatable {
    /// Blobs removed (or, in a dry run, that would be removed).
    public let deleted: [String]
    public let deletedBytes: Int64
    /// Unreferenced blobs kept because they are younger than the grace period.
    public let keptYoung: Int
    /// Blobs still referenced by a version.
    public let referenced: Int
    /// Unfinished uploads older than the grace period (S3 multipart uploads a crashed writer left open, a local
    /// store's stale temporary files): aborted, or in a dry run, that would be.
    public let abortedUploads: [PendingUpload]
    /// Unfinished uploads younger than the grace period, left alone (a writer may still be sending them).
    public let keptYoungUploads: Int
    /// Scratch directories of processes that were killed (a merge's downloaded inputs), removed from this
    /// machine's temporary directory.
    public let abandonedScratchDirectories: Int
    public let dryRun: Bool
}

extension Registry {
    /// Deletes blobs that no version references and that are older than `graceSeconds`, from the store and from
    /// the `blobs` table, and aborts unfinished uploads started more than `graceSeconds` ago.
    ///
    /// Runs holding the blob fence exclusively, so no registration is between its upload and its commit; the grace
    /// period additionally protects blobs uploaded by a registration that has not taken the fence yet, and the
    /// uploads still in flight: a grace shorter than the longest upload can abort a live writer's upload (its
    /// `put` then fails; nothing half-written is ever visible under a blob key).
    ///
    /// The fence is waited for at most `fenceTimeout`: a writer stopped between its upload and its commit holds it
    /// (shared), and gc then gives up with `registry.gc_busy` instead of blocking itself and every later writer.
    public func collectGarbage(graceSeconds: Int64, dryRun: Bool = false, fenceTimeout: Duration = .seconds(30)) throws -> GCReport {
        do {
            return try collectGarbageHoldingFence(graceSeconds: graceSeconds, dryRun: dryRun, fenceTimeout: fenceTimeout)
        } catch let error as PostgresError where error.sqlState == SQLState.lockNotAvailable {
            throw RegistryError(
                .unavailable, code: "registry.gc_busy",
                reason: "a writer held the blob fence for more than \(fenceTimeout) (an upload between its blobs and its commit, or a stopped process)",
                hint: "run gc again later; a writer that was killed releases the fence when its connection closes")
        }
    }

    private func collectGarbageHoldingFence(graceSeconds: Int64, dryRun: Bool, fenceTimeout: Duration) throws -> GCReport {
        try catalog.withExclusiveBlobFence(timeout: fenceTimeout) { session in
            let referenced = try session.blobs.referencedDigests()
            let cutoff = clock.now().addingTimeInterval(-Double(graceSeconds))
            var deleted: [String] = []
            var bytes: Int64 = 0
            var young = 0
            var seen: Set<String> = []
            for blob in try blobs.list() {
                seen.insert(blob.digest.hex)
                guard !referenced.contains(blob.digest.hex) else { continue }
                guard blob.lastModified < cutoff else { young += 1; continue }
                if !dryRun { try blobs.delete(digest: blob.digest) }
                deleted.append(blob.digest.hex)
                bytes += blob.size
            }
            let uploads = try blobs.sweepPendingUploads(olderThan: cutoff, dryRun: dryRun)
            // Rows for blobs that are gone from the store (or never arrived) and that nothing references.
            let staleRows = try session.blobs.unreferenced(cutoff: cutoff)
                .filter { !seen.contains($0.digest) && $0.olderThanCutoff }.map(\.digest)
            let rowsToDelete = deleted + staleRows
            if !dryRun && (!rowsToDelete.isEmpty || !uploads.aborted.isEmpty) {
                try catalog.transaction(on: session.connection) { tx in
                    try tx.blobs.delete(hexDigests: rowsToDelete)
                    try audit(tx, action: "gc.delete", subject: "blobs", details: [
                        "count": String(deleted.count), "bytes": String(bytes), "grace_seconds": String(graceSeconds),
                        "uploads_aborted": String(uploads.aborted.count),
                    ])
                }
            }
            let scratch = dryRun ? 0 : ScratchSpace.sweepAbandoned(in: FileManager.default.temporaryDirectory, prefix: ScratchSpace.prefix)
            return GCReport(deleted: deleted, deletedBytes: bytes, keptYoung: young, referenced: referenced.count,
                            abortedUploads: uploads.aborted, keptYoungUploads: uploads.keptYoung,
                            abandonedScratchDirectories: scratch, dryRun: dryRun)
        }
    }
}
