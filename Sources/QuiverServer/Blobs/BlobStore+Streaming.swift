import Foundation
import ObjectStore
import QuiverCore

extension RequestBodySource: ByteSource {}

/// The two blob-store calls the server's transfers make: ObjectStore's streamed put and get, fed from and into the
/// bounded bridges of a request and a response.
extension BlobStore {
    /// Stores the request body under `digest` as it arrives (hashed on the way; nothing is stored unless the
    /// bytes match and number exactly `size`).
    func streamPut(from source: RequestBodySource, size: Int64, digest: SHA256Digest) throws -> PutResult {
        try put(from: source, size: size, digest: digest)
    }

    /// Writes the blob, or `range` of it, into the response as it arrives (a whole blob is hashed; a mismatch
    /// throws at the end and the response is cut short).
    func streamGet(digest: SHA256Digest, range: Range<Int64>?, into sink: ResponseBodySink) throws {
        try get(digest: digest, range: range) { bytes in try sink.write(bytes) }
    }
}
