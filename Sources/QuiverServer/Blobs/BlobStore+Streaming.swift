import Foundation
import ObjectStore
import QuiverCore

/// The two blob-store calls the server's transfers make. TEMPORARY bodies until ObjectStore's streaming
/// `put(from:size:digest:)` and `get(digest:range:into:)` land (branch serve-store): these buffer in memory.
extension BlobStore {
    func streamPut(from source: RequestBodySource, size: Int64, digest: SHA256Digest) throws -> PutResult {
        var data = Data(count: Int(size))
        var filled = 0
        try data.withUnsafeMutableBytes { buffer in
            while filled < buffer.count {
                let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                if n == 0 { break }
                filled += n
            }
        }
        guard filled == size else { throw ObjectStoreError(.io, "the body ended after \(filled) of \(size) bytes") }
        let actual = SHA256Digest.of(data)
        guard actual == digest else {
            throw ObjectStoreError(.corruptBlob, "the \(size) bytes sent as sha256/\(digest.hex) hash to \(actual.hex)",
                                   hint: "the digest does not match the bytes sent; nothing was stored")
        }
        if let existing = try head(digest: digest), existing.size == size { return PutResult(digest: digest, size: size, alreadyPresent: true) }
        return try put(data: data)
    }

    func streamGet(digest: SHA256Digest, range: Range<Int64>?, into sink: ResponseBodySink) throws {
        let data = try range.map { try getRange(digest: digest, range: $0) } ?? getData(digest: digest)
        try data.withUnsafeBytes { try sink.write($0) }
    }
}
