import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// The two store kinds every contract test runs against.
enum StoreKind: String, CaseIterable, Sendable {
    case local, s3
}


/// A store under test plus a way to tamper with it behind its back, and its clean-up.
struct StoreUnderTest {
    var store: any BlobStore
    /// Replaces the bytes stored under a digest's key, bypassing content addressing.
    var tamper: @Sendable (SHA256Digest, Data) throws -> Void
    var cleanUp: @Sendable () -> Void
}

enum Stores {
    /// S3 settings for the test server, each call under a fresh prefix so runs and tests never see each other.
    static func s3Settings(_ server: TestS3, prefix: String = "t-\(UUID().uuidString.lowercased())") throws -> S3Settings {
        var settings = try S3Settings.fromEnvironment(url: "s3://\(server.bucket)/\(prefix)", environment: server.awsEnvironment)
        settings.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2, maxTotal: 5)
        return settings
    }

    static func make(_ kind: StoreKind) throws -> StoreUnderTest {
        switch kind {
        case .local:
            let root = try Fixtures.temporaryDirectory("quiver-blobs")
            let store = try LocalBlobStore(root: root)
            return StoreUnderTest(
                store: store,
                tamper: { digest, bytes in
                    try bytes.write(to: root.appendingPathComponent(BlobKey.key(for: digest)))
                },
                cleanUp: { try? FileManager.default.removeItem(at: root) })
        case .s3:
            let store = S3BlobStore(settings: try s3Settings(try TestS3.require()))
            return StoreUnderTest(
                store: store,
                tamper: { digest, bytes in try store.client.putObject(key: BlobKey.key(for: digest), data: bytes) },
                cleanUp: {
                    for blob in (try? store.list()) ?? [] { try? store.delete(digest: blob.digest) }
                })
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), so large test files need no /dev/urandom and are reproducible.
struct ByteGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.bindMemory(to: UInt64.self)
        for i in words.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            words[i] = state
        }
    }

    mutating func data(count: Int) -> Data {
        var data = Data(count: (count + 7) / 8 * 8)
        data.withUnsafeMutableBytes { fill($0) }
        return data.prefix(count)
    }

    /// Writes `size` bytes to a new file in 4 MiB chunks and returns their digest.
    mutating func writeFile(at url: URL, size: Int) throws -> SHA256Digest {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        var left = size
        while left > 0 {
            let chunk = data(count: min(left, 4 << 20))
            hasher.update(chunk)
            try handle.write(contentsOf: chunk)
            left -= chunk.count
        }
        return hasher.finalize()
    }
}
