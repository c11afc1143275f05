import Foundation
import Merge
import QuiverCore

/// What makes two merge requests "the same merge": the resolved request (method and every parameter, defaults
/// filled in) and the inputs' canonical digests in order. Asking for the same merge again returns the recorded
/// result instead of merging twice; the digest is stored with the merge (`merges.request_digest`).
public enum MergeIdentity {
    /// sha256 of the canonical request JSON, a newline, and the inputs' canonical digests joined by commas.
    /// `request` must already be resolved for the number of inputs (``MergeRequest/resolved(inputCount:)``).
    public static func key(_ request: MergeRequest, inputDigests: [SHA256Digest]) throws -> SHA256Digest {
        var bytes = try request.canonicalJSON()
        bytes.append(contentsOf: Array(("\n" + inputDigests.map(\.hex).joined(separator: ",")).utf8))
        return SHA256Digest.of(bytes)
    }
}
