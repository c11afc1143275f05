import Foundation
import QuiverCore

extension BlobStore {
    /// Stores the file under `digest` even when a blob of that size is already there: the way to heal a stored
    /// copy that was corrupted in place (same size, other bytes), which `put` would skip as already present.
    ///
    /// The local file is hashed first and must match `digest` (`.corruptBlob` otherwise: a bad copy never replaces
    /// a stored one). Between the delete and the upload the blob is briefly absent; readers fail with `.notFound`
    /// and retry, where before they failed with `.corruptBlob`.
    public func replace(fileAt url: URL, digest: SHA256Digest) throws -> PutResult {
        let actual = try SHA256Digest.ofFile(at: url)
        guard actual == digest else {
            throw ObjectStoreError(
                .corruptBlob, "\(url.path) hashes to \(actual.hex), not sha256:\(digest.hex)",
                hint: "replace a stored blob only with a file that has its digest")
        }
        try delete(digest: digest)
        return try put(fileAt: url, digest: digest)
    }
}
