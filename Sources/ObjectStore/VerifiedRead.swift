import Foundation
import QuiverCore

/// The one place where a blob read is checked against its content address, for every store: bytes stream into a
/// hashing sink, and the read fails with `corruptBlob` (leaving no partial file) unless they hash to the digest.
/// Public for the Quiver API client, whose downloads are verified the same way.
public enum VerifiedRead {
    /// Streams the blob into `fileURL`, hashing as it arrives; returns the byte count. `stream` fills the sink (it
    /// may reset it between attempts: ``ResponseSink/reset()``); a mismatch is `corruptBlob` naming `location`,
    /// and leaves no file.
    public static func toFile(
        _ digest: SHA256Digest, _ fileURL: URL, location: String, stream: (any ResponseSink) throws -> Void
    ) throws -> Int64 {
        let sink = try HashingFileSink(path: fileURL.path)
        return try toFile(digest, path: fileURL.path, location: location) {
            try stream(sink)
            return (sink.hasher.finalize(), sink.count)
        } commit: {
            try sink.sync()
        }
    }

    /// For readers that write and hash the file themselves (parallel ranges): `write` fills the file at `path` and
    /// returns what it hashed to and its size; `commit` (fsync) runs only once that matches `digest`. Any failure
    /// leaves no file.
    static func toFile(
        _ digest: SHA256Digest, path: String, location: String,
        write: () throws -> (actual: SHA256Digest, count: Int64), commit: () throws -> Void
    ) throws -> Int64 {
        do {
            let (actual, count) = try write()
            try check(digest, actual, location: location)
            try commit()
            return count
        } catch {
            unlink(path)
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
