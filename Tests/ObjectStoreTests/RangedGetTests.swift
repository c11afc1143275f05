import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// Blobs above the multipart threshold come down as parallel ranges into one file, verified while they arrive:
/// against the real SeaweedFS, with 5 MiB ranges so a ~23 MiB blob has five parts and a short last one.
@Suite("S3BlobStore parallel ranged GET against SeaweedFS")
struct RangedGetTests {
    static let size = (22 << 20) + 4321

    static func settings(_ server: TestS3, concurrency: Int) throws -> S3Settings {
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 5 << 20
        settings.partSize = 5 << 20
        settings.downloadConcurrency = concurrency
        return settings
    }

    static func store(_ server: TestS3, concurrency: Int) throws -> S3BlobStore {
        S3BlobStore(settings: try settings(server, concurrency: concurrency))
    }

    @Test("a blob above the threshold round-trips byte-identical", arguments: [1, 3])
    func roundTrip(concurrency: Int) async throws {
        let store = try Self.store(try TestS3.require(), concurrency: concurrency)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("blob.bin")
        var generator = ByteGenerator(seed: 4100 + UInt64(concurrency))
        let digest = try generator.writeFile(at: source, size: Self.size)
        _ = try await store.put(fileAt: source, digest: digest)

        let copy = directory.appendingPathComponent("copy.bin")
        #expect(try await store.get(digest: digest, to: copy) == Int64(Self.size))
        #expect(try Data(contentsOf: copy) == (try Data(contentsOf: source)))
        try await store.delete(digest: digest)
    }

    @Test("an object altered in one part to other bytes of the same size is corruptBlob and leaves no file")
    func tamperedSameSize() async throws {
        let store = try Self.store(try TestS3.require(), concurrency: 3)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = ByteGenerator(seed: 4200)
        var bytes = generator.data(count: Self.size)
        let put = try await store.put(data: bytes)
        // One byte in the fourth 5 MiB range changes; the size, and so every range request, stays the same.
        bytes[(15 << 20) + 99] ^= 0xFF
        let altered = bytes
        try await BlockingExecutor.shared.run { try store.client.putObject(key: BlobKey.key(for: put.digest), data: altered) }
        #expect(try await store.head(digest: put.digest)?.size == Int64(Self.size))

        let destination = directory.appendingPathComponent("out.bin")
        let error = await #expect(throws: ObjectStoreError.self) { try await store.get(digest: put.digest, to: destination) }
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains(SHA256Digest.of(altered).hex) == true)
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        try await store.delete(digest: put.digest)
    }

    /// Ranges cut half-way (the connection closed mid-body) are retried from their start; the file is hashed while
    /// it is written, so bytes hashed before a cut must be the bytes the retry writes again: the download is
    /// byte-identical and verified.
    @Test("ranges cut half-way are retried and the download still verifies")
    func cutRangesAreRetried() async throws {
        let server = try TestS3.require()
        var settings = try Self.settings(server, concurrency: 3)
        let direct = S3BlobStore(settings: settings)
        let proxy = try CuttingProxy(endpoint: server.endpoint, cuts: 2, after: (3 << 20) + 777)
        defer { proxy.close() }
        settings.endpoint = try #require(URL(string: proxy.endpoint))
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = ByteGenerator(seed: 4300)
        let bytes = generator.data(count: Self.size)
        let put = try await direct.put(data: bytes)
        let copy = directory.appendingPathComponent("copy.bin")
        #expect(try await store.get(digest: put.digest, to: copy) == Int64(Self.size))
        #expect(proxy.cutsMade.load(ordering: .relaxed) == 2, "the proxy should have cut two ranges")
        #expect(try Data(contentsOf: copy) == bytes)
        try await direct.delete(digest: put.digest)
    }

    /// The blob's chain at a 1 MiB stride: the 5 MiB ranges each start at a recorded state.
    static func chain(of bytes: Data) throws -> SHA256Chain {
        try #require(SHA256Chain.digest(size: Int64(bytes.count), stride: 1 << 20) { feed in bytes.withUnsafeBytes { feed($0) } }.chain)
    }

    @Test("with the blob's size and chain known, ranges verify themselves as they arrive, retried ranges too")
    func checkedRanges() async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let server = try TestS3.require()
        var settings = try Self.settings(server, concurrency: 3)
        let direct = S3BlobStore(settings: settings)
        let proxy = try CuttingProxy(endpoint: server.endpoint, cuts: 2, after: (2 << 20) + 555)
        defer { proxy.close() }
        settings.endpoint = try #require(URL(string: proxy.endpoint))
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = ByteGenerator(seed: 4500)
        let bytes = generator.data(count: Self.size)
        let put = try await direct.put(data: bytes)
        let known = KnownBlob(size: Int64(Self.size), chain: try Self.chain(of: bytes))
        let copy = directory.appendingPathComponent("copy.bin")
        let size = try await BlockingExecutor.shared.run { try store.get(digest: put.digest, known: known, to: copy) }
        #expect(size == Int64(Self.size))
        #expect(proxy.cutsMade.load(ordering: .relaxed) == 2, "the proxy should have cut two ranges")
        #expect(try Data(contentsOf: copy) == bytes)

        // Wrong states refuse the right bytes range by range; the file is then hashed in one stream and passes.
        let right = try #require(known.chain)
        var states = right.states
        states[8 * 7] ^= 0xFFFF
        let wrongChain = try #require(SHA256Chain(stride: right.stride, states: states))
        #expect(wrongChain != right)
        let wrong = KnownBlob(size: known.size, chain: wrongChain)
        let again = directory.appendingPathComponent("again.bin")
        _ = try await BlockingExecutor.shared.run { try direct.get(digest: put.digest, known: wrong, to: again) }
        #expect(try Data(contentsOf: again) == bytes)
        try await direct.delete(digest: put.digest)
    }

    /// The third range holds strides 10 to 14: 10 and 11 are checked as a pair (10 read back from the file while 11
    /// arrives), 14 alone.
    @Test("other bytes of the same size under the key fail their range's check and leave no file",
          arguments: [(10 << 20) + 7, (11 << 20) + 7, (14 << 20) + 7])
    func checkedRangesRefuseTamperedBytes(position: Int) async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let store = try Self.store(try TestS3.require(), concurrency: 3)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = ByteGenerator(seed: 4600)
        var bytes = generator.data(count: Self.size)
        let put = try await store.put(data: bytes)
        let known = KnownBlob(size: Int64(Self.size), chain: try Self.chain(of: bytes))
        bytes[position] ^= 0x40
        let altered = bytes
        try await BlockingExecutor.shared.run { try store.client.putObject(key: BlobKey.key(for: put.digest), data: altered) }
        let destination = directory.appendingPathComponent("out.bin")
        let error = await #expect(throws: ObjectStoreError.self) {
            try await BlockingExecutor.shared.run { try store.get(digest: put.digest, known: known, to: destination) }
        }
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains(SHA256Digest.of(altered).hex) == true)
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        try await store.delete(digest: put.digest)
    }

    @Test("a stored object of another size than the known one is corruptBlob before its bytes are read",
          arguments: [Self.size - 4321, Self.size + 100, 3 << 20])
    func knownSizeDiffers(storedSize: Int) async throws {
        let store = try Self.store(try TestS3.require(), concurrency: 3)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = ByteGenerator(seed: 4700 + UInt64(storedSize))
        let bytes = generator.data(count: Self.size)
        let digest = SHA256Digest.of(bytes)
        let stored = generator.data(count: storedSize)
        try await BlockingExecutor.shared.run { try store.client.putObject(key: BlobKey.key(for: digest), data: stored) }
        let destination = directory.appendingPathComponent("out.bin")
        let error = await #expect(throws: ObjectStoreError.self) {
            try await BlockingExecutor.shared.run { try store.get(digest: digest, known: KnownBlob(size: Int64(Self.size)), to: destination) }
        }
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains("is \(Self.size) bytes") == true)
        #expect(error?.reason.contains(digest.hex) == true)
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        try await BlockingExecutor.shared.run { try store.client.deleteObject(key: BlobKey.key(for: digest)) }
    }

    @Test("a missing blob of known size is notFound and leaves no file", arguments: [Int64(100), Int64(Self.size)])
    func missingKnown(size: Int64) async throws {
        let store = try Self.store(try TestS3.require(), concurrency: 3)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let destination = directory.appendingPathComponent("out.bin")
        let absent = SHA256Digest.of(Data("never stored \(UUID())".utf8))
        let error = await #expect(throws: ObjectStoreError.self) {
            try await BlockingExecutor.shared.run { try store.get(digest: absent, known: KnownBlob(size: size), to: destination) }
        }
        #expect(error?.kind == .notFound)
        #expect(error?.reason.contains(absent.hex) == true)
        #expect(!FileManager.default.fileExists(atPath: destination.path))
    }

    @Test("a missing blob is notFound and leaves no file")
    func missing() async throws {
        let store = try Self.store(try TestS3.require(), concurrency: 3)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let destination = directory.appendingPathComponent("out.bin")
        let absent = SHA256Digest.of(Data("never stored \(UUID())".utf8))
        let error = await #expect(throws: ObjectStoreError.self) { try await store.get(digest: absent, to: destination) }
        #expect(error?.kind == .notFound)
        #expect(error?.reason.contains(absent.hex) == true)
        #expect(!FileManager.default.fileExists(atPath: destination.path))
    }
}
