import Foundation
import QuiverCore

/// The one place where a blob read is checked against its content address, for every store: bytes stream into a
/// hashing sink, and the read fails with `corruptBlob` (leaving no partial file) unless they hash to the digest.
enum VerifiedRead {
    /// Streams the blob into `fileURL`, hashing as it arrives; returns the byte count.
    static func toFile(
        _ digest: SHA256Digest, _ fileURL: URL, location: String, stream: (any ResponseSink) throws -> Void
    ) throws -> Int64 {
        let sink = try HashingFileSink(path: fileURL.path)
        do {
            try stream(sink)
            try check(digest, sink.hasher.finalize(), location: location)
            try sink.sync()
            return sink.count
        } catch {
            unlink(fileURL.path)
            throw error
        }
    }

    /// Reads the blob into memory, verified.
    static func toData(
        _ digest: SHA256Digest, location: String, stream: (any ResponseSink) throws -> Void
    ) throws -> Data {
        let sink = HashingDataSink()
        try stream(sink)
        try check(digest, sink.hasher.finalize(), location: location)
        return sink.data
    }

    private static func check(_ digest: SHA256Digest, _ actual: SHA256Digest, location: String) throws {
        guard actual == digest else { throw ObjectStoreError.corrupt(digest, actual: actual, at: location) }
    }
}
