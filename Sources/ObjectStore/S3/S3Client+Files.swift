import Foundation
import QuiverCore

extension S3Client {
    /// Uploads a file under an arbitrary key (relative to the prefix), streamed from disk: one PUT whose payload
    /// hash is `sha256` up to `settings.multipartThreshold`, a multipart upload above it. The bytes are hashed as they
    /// go out and the transfer is aborted before its end when they do not hash to `sha256` (the file changed).
    ///
    /// For objects that are not content-addressed blobs, such as a published adapter directory (`quiver publish
    /// --to s3://…`).
    public func putFile(key: String, at url: URL, size: Int64, sha256: SHA256Digest) throws {
        if size > settings.multipartThreshold {
            try putObjectMultipart(key: key, path: url.path, size: size, expected: sha256)
        } else {
            try putObject(key: key, body: .file(path: url.path, offset: 0, length: size, expected: sha256), payloadHash: sha256.hex)
        }
    }
}
