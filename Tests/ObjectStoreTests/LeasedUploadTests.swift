import Foundation
import Glibc
import ObjectStore
import QuiverCore
import QuiverTesting
import Synchronization
import Testing

/// Multipart uploads from a file held by a read lease (``FileLease``) taken before it was hashed, against the real
/// SeaweedFS: the parts are sent without being read again while the lease stands, and a writer who comes through
/// during the upload (the proxy in front of the server lets the test act just as part 2 starts) has every part
/// checked before anything is completed.
@Suite("Leased uploads")
struct LeasedUploadTests {
    static let size = (11 << 20) + 321

    /// Parts of 5 MiB, one at a time (so part 2 starts only once part 1 went out), under a fresh prefix.
    static func settings(_ server: TestS3) throws -> S3Settings {
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 5 << 20
        settings.partSize = 5 << 20
        settings.uploadConcurrency = 1
        return settings
    }

    /// A file leased, then hashed: the order that lets the lease vouch for the digest.
    struct LeasedFile {
        let path: String
        let bytes: Data
        let digest: SHA256Digest
        let chain: SHA256Chain
        let lease: FileLease

        /// Stores the file with its digest, chain and lease (what register hands the store).
        func put(into store: S3BlobStore) throws -> PutResult {
            try store.put(fileAt: URL(fileURLWithPath: path), digest: digest, chain: chain, lease: lease)
        }
    }

    /// A file of `size` random bytes, leased and then hashed, with a chain at a 1 MiB stride: the 5 MiB parts stay
    /// three.
    static func leasedFile(in directory: URL, seed: UInt64) throws -> LeasedFile {
        let url = directory.appendingPathComponent("adapter_model.safetensors")
        var generator = ByteGenerator(seed: seed)
        _ = try generator.writeFile(at: url, size: size)
        let lease = try #require(FileLease.take(path: url.path), "a read lease on a file of the temporary directory")
        let bytes = try Data(contentsOf: url)
        let (digest, chain) = SHA256Chain.digest(size: Int64(size), stride: 1 << 20) { feed in bytes.withUnsafeBytes { feed($0) } }
        return LeasedFile(path: url.path, bytes: bytes, digest: digest, chain: try #require(chain), lease: lease)
    }

    /// Something the proxy does once, at the first request that calls for it.
    final class Once: Sendable {
        private let done = Atomic<Bool>(false)
        /// True the first time only.
        func claim() -> Bool { !done.exchange(true, ordering: .relaxed) }
        var happened: Bool { done.load(ordering: .relaxed) }
    }

    /// Puts `file` (under ``settings(_:)``) through a proxy that runs `atPart2` once, just as part 2's request starts
    /// (part 1 has gone out, part 3 has not). Returns the put's outcome, whether `atPart2` ran, and a store with the
    /// same settings that goes straight to the server, to look at what was left.
    static func put(
        _ file: LeasedFile, server: TestS3, atPart2: @escaping @Sendable () -> Void
    ) async throws -> (outcome: Result<PutResult, any Error>, acted: Bool, direct: S3BlobStore) {
        let settings = try Self.settings(server)
        let acted = Once()
        let proxy = try CuttingProxy(endpoint: server.endpoint, cuts: 0, after: 0) { request in
            guard request.contains("partNumber=2&"), acted.claim() else { return }
            atPart2()
        }
        defer { proxy.close() }
        var proxied = settings
        proxied.endpoint = try #require(URL(string: proxy.endpoint))
        let store = S3BlobStore(settings: proxied)
        let outcome: Result<PutResult, any Error>
        do {
            outcome = .success(try await BlockingExecutor.shared.run { try file.put(into: store) })
        } catch {
            outcome = .failure(error)
        }
        return (outcome, acted.happened, S3BlobStore(settings: settings))
    }

    /// Opens the file for writing (through the lease: the open waits until the holder lets go), flips the byte at
    /// `position` if given, and closes it.
    static func write(_ path: String, flipping position: Int?) {
        var byte: UInt8 = 0
        if let position {  // read first: opening to read leaves the lease alone
            let reader = open(path, O_RDONLY | O_CLOEXEC)
            _ = pread(reader, &byte, 1, off_t(position))
            close(reader)
        }
        let writer = open(path, O_WRONLY | O_CLOEXEC)
        guard writer >= 0 else { return }
        if let position {
            byte ^= 0x40
            _ = pwrite(writer, &byte, 1, off_t(position))
        }
        close(writer)
    }

    @Test("with the lease intact the parts go out unread and the blob is stored as hashed; the lease still stands")
    func intactLease() async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let store = S3BlobStore(settings: try Self.settings(try TestS3.require()))
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.leasedFile(in: directory, seed: 91)
        let put = try await BlockingExecutor.shared.run { try file.put(into: store) }
        #expect(put == PutResult(digest: file.digest, size: Int64(Self.size), alreadyPresent: false))
        #expect(try await store.getData(digest: file.digest) == file.bytes)
        #expect(file.lease.isIntact, "nobody wrote: the upload must not have broken the lease")
        try await store.delete(digest: file.digest)
    }

    @Test("a writer who changes a byte while the parts go out, in a part already sent or one not yet sent, aborts the upload and leaves nothing", arguments: [17, size - 5])
    func writerDuringUpload(position: Int) async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let server = try TestS3.require()
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.leasedFile(in: directory, seed: 92)
        let (outcome, acted, direct) = try await Self.put(file, server: server) {
            Self.write(file.path, flipping: position)
        }
        let error = #expect(throws: ObjectStoreError.self) { try outcome.get() }
        #expect(acted, "the writer should have come through as part 2 started")
        #expect(error?.kind == .corruptBlob)
        let changed = try Data(contentsOf: URL(fileURLWithPath: file.path))
        #expect(changed != file.bytes)
        #expect(error?.reason.contains(SHA256Digest.of(changed).hex) == true, "the message names what the file hashes to")
        #expect(!file.lease.isIntact)
        #expect(try await direct.head(digest: file.digest) == nil)
        #expect(try await BlockingExecutor.shared.run { try direct.pendingUploads() }.isEmpty)
    }

    @Test("a writer who opens the file while the parts go out but changes nothing breaks the lease; every part then checks out and the blob is stored")
    func writerChangingNothing() async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let server = try TestS3.require()
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.leasedFile(in: directory, seed: 93)
        let (outcome, acted, direct) = try await Self.put(file, server: server) {
            Self.write(file.path, flipping: nil)
        }
        let put = try outcome.get()
        #expect(acted)
        #expect(!file.lease.isIntact)
        #expect(put == PutResult(digest: file.digest, size: Int64(Self.size), alreadyPresent: false))
        #expect(try await direct.getData(digest: file.digest) == file.bytes)
        try await direct.delete(digest: file.digest)
    }

    @Test("a lease broken before the upload starts (the file changed after it was hashed) has each part checked: refused, nothing left")
    func brokenBeforeTheUpload() async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let store = S3BlobStore(settings: try Self.settings(try TestS3.require()))
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.leasedFile(in: directory, seed: 94)
        Self.write(file.path, flipping: (6 << 20) + 3)
        #expect(!file.lease.isIntact)
        let error = await #expect(throws: ObjectStoreError.self) {
            try await BlockingExecutor.shared.run { try file.put(into: store) }
        }
        #expect(error?.kind == .corruptBlob)
        #expect(try await store.head(digest: file.digest) == nil)
        #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.isEmpty)
    }

    @Test("a path renamed over by another file during the upload is not read in the leased file's place")
    func renamedOver() async throws {
        try #require(SHA256Chain.available, "needs the SHA extensions")
        let server = try TestS3.require()
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.leasedFile(in: directory, seed: 95)
        // Another file of the same size, renamed over the path as part 2 starts: the lease (on the first file)
        // stays intact, but the parts must not be read from the newcomer.
        let replacement = directory.appendingPathComponent("replacement")
        var generator = ByteGenerator(seed: 96)
        let other = try generator.writeFile(at: replacement, size: Self.size)
        let (outcome, acted, direct) = try await Self.put(file, server: server) {
            _ = rename(replacement.path, file.path)
        }
        let error = #expect(throws: ObjectStoreError.self) { try outcome.get() }
        #expect(acted)
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains(other.hex) == true, "the message names what the file at the path hashes to")
        #expect(try await direct.head(digest: file.digest) == nil)
        #expect(try await BlockingExecutor.shared.run { try direct.pendingUploads() }.isEmpty)
    }
}
