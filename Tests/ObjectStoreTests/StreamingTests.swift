import Foundation
@testable import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// `put(from:size:digest:)` and `get(digest:range:into:)`: the streaming API the HTTP server calls, against the
/// local store and the real SeaweedFS.
@Suite("Streamed put and get")
struct StreamingTests {
    /// Collects what a sink receives.
    final class Collector: @unchecked Sendable {
        // @unchecked: a store calls the sink from one thread at a time; the test reads after the call returns.
        var data = Data()
        var calls = 0
        func sink(_ bytes: UnsafeRawBufferPointer) { data.append(contentsOf: bytes); calls += 1 }
    }

    /// Hashes what a sink receives.
    final class HashingCollector: @unchecked Sendable {
        // @unchecked: a store calls the sink from one thread at a time; the test reads after the call returns.
        var hasher = SHA256Hasher()
        func sink(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }
    }

    /// Nothing under the key, and no unfinished upload (open multipart upload, temporary file) left behind.
    static func expectNothingStored(_ store: any BlobStore, _ digest: SHA256Digest, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try store.head(digest: digest) == nil, "an object was left under the key", sourceLocation: sourceLocation)
        #expect(try store.pendingUploads().isEmpty, "an unfinished upload was left behind", sourceLocation: sourceLocation)
    }

    @Test("a streamed put round-trips; putting it again drains and verifies the body but stores nothing",
          arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        var generator = ByteGenerator(seed: 41)
        let bytes = generator.data(count: 1_000_003)
        let digest = SHA256Digest.of(bytes)

        let put = try await sut.store.put(from: DataSource(bytes, chunk: 65_537), size: Int64(bytes.count), digest: digest)
        #expect(put == PutResult(digest: digest, size: Int64(bytes.count), alreadyPresent: false))
        #expect(try await sut.store.getData(digest: digest) == bytes)

        let again = DataSource(bytes)
        #expect(try await sut.store.put(from: again, size: Int64(bytes.count), digest: digest).alreadyPresent)
        #expect(again.position == bytes.count, "the body of an already-present blob is still read to its end")

        let whole = Collector()
        #expect(try await sut.store.get(digest: digest, range: nil, into: whole.sink) == Int64(bytes.count))
        #expect(whole.data == bytes)
        try await sut.store.delete(digest: digest)
    }

    @Test("ranged reads into a sink: clamped to the size, empty ranges, past the end, absent blobs",
          arguments: StoreKind.allCases)
    func ranges(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        var generator = ByteGenerator(seed: 43)
        let bytes = generator.data(count: 10_000)
        let digest = try await sut.store.put(data: bytes).digest
        func read(_ range: Range<Int64>) async throws -> Data {
            let collector = Collector()
            let count = try await sut.store.get(digest: digest, range: range, into: collector.sink)
            #expect(count == Int64(collector.data.count))
            return collector.data
        }
        #expect(try await read(0..<8) == bytes.prefix(8))
        #expect(try await read(1000..<4321) == bytes[1000..<4321])
        #expect(try await read(9990..<20_000) == bytes.suffix(10), "clamped to the blob's size")
        #expect(try await read(0..<10_000) == bytes)
        #expect(try await read(5..<5).isEmpty)
        #expect(try await read(10_000..<10_000).isEmpty, "an empty range at the end is fine")
        for past: Range<Int64> in [10_000..<10_001, 12_000..<13_000, 10_001..<10_001] {
            let error = await #expect(throws: ObjectStoreError.self) { try await read(past) }
            #expect(error?.kind == .rangeNotSatisfiable && error?.errorKind == .invalidInput, "\(past)")
        }
        let absent = SHA256Digest.of(Data("absent".utf8))
        let missing = await #expect(throws: ObjectStoreError.self) {
            try await sut.store.get(digest: absent, range: nil) { _ in }
        }
        #expect(missing?.kind == .notFound)
        let missingRange = await #expect(throws: ObjectStoreError.self) {
            try await sut.store.get(digest: absent, range: 0..<10) { _ in }
        }
        #expect(missingRange?.kind == .notFound)
    }

    @Test("a whole read of a tampered blob delivers the bytes, then throws corruptBlob", arguments: StoreKind.allCases)
    func tamperedWholeRead(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        let digest = try await sut.store.put(data: Data("the real adapter bytes".utf8)).digest
        try sut.tamper(digest, Data("something else entirely".utf8))
        let collector = Collector()
        let error = await #expect(throws: ObjectStoreError.self) {
            try await sut.store.get(digest: digest, range: nil, into: collector.sink)
        }
        #expect(error?.kind == .corruptBlob)
        #expect(collector.data == Data("something else entirely".utf8), "the sink saw the bytes before the check")
        // A sink that fails stops the read with its own error.
        struct Stop: Error {}
        await #expect(throws: Stop.self) { try await sut.store.get(digest: digest, range: nil) { _ in throw Stop() } }
    }

    @Test("a wrong digest, a short body, a long body, a failing source: nothing stored, named errors",
          arguments: StoreKind.allCases)
    func refusals(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        try await Self.refusals(sut.store, size: 300_001, seed: 47)
    }

    /// The refusal cases for one store and blob size (shared with the multipart variant).
    static func refusals(_ store: any BlobStore, size: Int, seed: UInt64) async throws {
        var generator = ByteGenerator(seed: seed)
        let bytes = generator.data(count: size)
        let digest = SHA256Digest.of(bytes)
        let count = Int64(size)

        // Wrong digest: the bytes are someone else's.
        let wrong = SHA256Digest.of(Data("not these bytes".utf8))
        let mismatch = await #expect(throws: ObjectStoreError.self) {
            try await store.put(from: DataSource(bytes), size: count, digest: wrong)
        }
        #expect(mismatch?.kind == .corruptBlob && mismatch?.reason.contains(digest.hex) == true, "\(String(describing: mismatch))")
        try expectNothingStored(store, wrong)

        // A body that ends early.
        let short = await #expect(throws: ObjectStoreError.self) {
            try await store.put(from: DataSource(bytes.prefix(size - 1000)), size: count, digest: digest)
        }
        #expect(short?.kind == .sizeMismatch && short?.errorKind == .invalidInput, "\(String(describing: short))")
        try expectNothingStored(store, digest)

        // A body with more than declared: the digest is of the declared prefix, so only the length gives it away.
        let prefix = SHA256Digest.of(bytes.prefix(size - 1))
        let long = await #expect(throws: ObjectStoreError.self) {
            try await store.put(from: DataSource(bytes), size: count - 1, digest: prefix)
        }
        #expect(long?.kind == .sizeMismatch, "\(String(describing: long))")
        try expectNothingStored(store, prefix)

        // The client goes away half-way: its own error comes back.
        await #expect(throws: GeneratedSource.Failure.self) {
            try await store.put(from: GeneratedSource(seed: seed, size: count, failAfter: count / 2), size: count,
                                digest: GeneratedSource.digest(seed: seed, size: count))
        }
        try expectNothingStored(store, GeneratedSource.digest(seed: seed, size: count))

        // Already stored: a wrong body of the same size is still refused, and the stored blob stays intact.
        _ = try await store.put(from: DataSource(bytes), size: count, digest: digest)
        var tampered = bytes
        tampered[0] ^= 0xFF
        let present = await #expect(throws: ObjectStoreError.self) {
            try await store.put(from: DataSource(tampered), size: count, digest: digest)
        }
        #expect(present?.kind == .corruptBlob)
        #expect(try await store.getData(digest: digest) == bytes)
        try await store.delete(digest: digest)
    }

    @Test("the empty blob streams in and out; a wrong digest for it is refused", arguments: StoreKind.allCases)
    func emptyBlob(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        let empty = SHA256Digest.of(Data())
        #expect(try await sut.store.put(from: DataSource(Data()), size: 0, digest: empty).size == 0)
        #expect(try await sut.store.get(digest: empty, range: nil) { _ in } == 0)
        let wrong = SHA256Digest.of(Data("x".utf8))
        let error = await #expect(throws: ObjectStoreError.self) {
            try await sut.store.put(from: DataSource(Data()), size: 0, digest: wrong)
        }
        #expect(error?.kind == .corruptBlob)
        let long = await #expect(throws: ObjectStoreError.self) {
            try await sut.store.put(from: DataSource(Data("x".utf8)), size: 0, digest: empty)
        }
        #expect(long?.kind == .sizeMismatch)
        try Self.expectNothingStored(sut.store, wrong)
    }

    /// S3 with a low threshold, so a few MiB go up as multipart uploads of 5 MiB parts.
    static func multipartStore(_ server: TestS3, concurrency: Int = 2) throws -> S3BlobStore {
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 6 << 20
        settings.partSize = 5 << 20
        settings.uploadConcurrency = concurrency
        return S3BlobStore(settings: settings)
    }

    @Test("S3 multipart from a stream: parts from reusable buffers, in order, verified")
    func multipart() async throws {
        let store = try Self.multipartStore(try TestS3.require(), concurrency: 3)
        defer { for blob in (try? store.list()) ?? [] { try? store.delete(digest: blob.digest) } }
        let size: Int64 = (17 << 20) + 3  // four parts, the last one 2 MiB + 3 bytes
        let digest = GeneratedSource.digest(seed: 53, size: size)
        let source = GeneratedSource(seed: 53, size: size)
        #expect(try await store.put(from: source, size: size, digest: digest)
                == PutResult(digest: digest, size: size, alreadyPresent: false))
        #expect(source.produced == size)
        #expect(try await store.head(digest: digest)?.size == size)
        #expect(try store.pendingUploads().isEmpty)

        // Read back through the sink, hashed by the store and again here.
        let hasher = HashingCollector()
        let read = try await store.get(digest: digest, range: nil, into: hasher.sink)
        #expect(read == size)
        #expect(hasher.hasher.finalize() == digest)
        let tail = Collector()
        #expect(try await store.get(digest: digest, range: (size - 10)..<(size + 100), into: tail.sink) == 10)
    }

    @Test("S3 multipart refusals: wrong digest, short, long, failing source; no upload left open")
    func multipartRefusals() async throws {
        let store = try Self.multipartStore(try TestS3.require())
        defer { for blob in (try? store.list()) ?? [] { try? store.delete(digest: blob.digest) } }
        try await Self.refusals(store, size: (11 << 20) + 5, seed: 59)
    }

    @Test("a streamed put never leaves an object before its digest matched: multipart, aborted on a mismatch")
    func aMismatchLeavesNoObjectEvenOnAServerThatKeepsCutBodies() async throws {
        let settings = try Stores.s3Settings(try TestS3.require())
        let store = S3BlobStore(settings: settings)
        for size in [1, 4096, 100_000] {
            var generator = ByteGenerator(seed: UInt64(size))
            let bytes = generator.data(count: size)
            let claimed = SHA256Digest.of(Data(bytes.reversed()) + Data("x".utf8))
            await #expect(throws: ObjectStoreError.self) {
                try await store.put(from: DataSource(bytes), size: Int64(size), digest: claimed)
            }
            try Self.expectNothingStored(store, claimed)
        }
    }

    @Test("a single PUT to an endpoint that refuses connections takes nothing from its source and is retried")
    func refusedConnectionsAreRetried() async throws {
        let settings = try Stores.s3Settings(try TestS3.require())
        // Refused connections take nothing from the source, so every attempt is made.
        var refused = settings
        refused.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.02, maxTotal: 2)
        refused.endpoint = URL(string: "http://127.0.0.1:1")!
        let unreachable = S3BlobStore(settings: refused)
        let abc = DataSource(Data("abc".utf8))
        let failure = await #expect(throws: ObjectStoreError.self) {
            try await BlockingExecutor.shared.run {
                let reader = VerifiedSourceReader(source: abc, size: 3, expected: SHA256Digest.of(Data("abc".utf8)))
                try unreachable.client.putObject(key: "sha256/x", body: .source(reader), payloadHash: reader.expected.hex)
            }
        }
        #expect(failure?.kind == .unreachable && failure?.reason.contains("3 attempt(s)") == true, "\(String(describing: failure))")
        #expect(abc.position == 0)
    }
}
