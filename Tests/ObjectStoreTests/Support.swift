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

/// A ``ByteSource`` over bytes in memory, handing them out in reads of at most `chunk` bytes.
final class DataSource: ByteSource, @unchecked Sendable {
    // @unchecked: a store reads from one thread at a time (the protocol's contract); tests read `position` after.
    private let data: Data
    private let chunk: Int
    private(set) var position = 0

    init(_ data: Data, chunk: Int = 100_000) {
        self.data = data
        self.chunk = chunk
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, chunk, data.count - position)
        guard n > 0 else { return 0 }
        data.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// A ``ByteSource`` of `size` deterministic pseudo-random bytes generated as they are read (256 KiB at a time,
/// nothing more held in memory), the same stream however it is read; counts what was taken. `failAfter` makes it
/// throw once that many bytes were read.
final class GeneratedSource: ByteSource, @unchecked Sendable {
    // @unchecked: read from one thread at a time (the protocol's contract); counters read by the test afterwards.
    struct Failure: Error {}
    private var generator: ByteGenerator
    private let size: Int64
    private let failAfter: Int64?
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 8)
    private var unread = 0..<0
    private(set) var produced: Int64 = 0
    /// The most bytes asked for in one read.
    private(set) var largestRead = 0

    init(seed: UInt64, size: Int64, failAfter: Int64? = nil) {
        generator = ByteGenerator(seed: seed)
        self.size = size
        self.failAfter = failAfter
    }

    deinit { scratch.deallocate() }

    /// The digest of what the source produces, computed by generating the bytes once more.
    static func digest(seed: UInt64, size: Int64) -> SHA256Digest {
        let source = GeneratedSource(seed: seed, size: size)
        var hasher = SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        while let n = try? source.read(into: buffer), n > 0 { hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return hasher.finalize()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        largestRead = max(largestRead, buffer.count)
        if let failAfter, produced >= failAfter { throw Failure() }
        if unread.isEmpty {
            generator.fill(scratch)
            unread = 0..<scratch.count
        }
        let n = Int(min(Int64(buffer.count), Int64(unread.count), size - produced))
        guard n > 0 else { return 0 }
        buffer.baseAddress!.copyMemory(from: scratch.baseAddress! + unread.lowerBound, byteCount: n)
        unread = (unread.lowerBound + n)..<unread.upperBound
        produced += Int64(n)
        return n
    }
}
