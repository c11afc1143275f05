import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// Unfinished uploads against the real SeaweedFS and a local directory: a failed multipart upload is aborted,
/// and uploads a crashed writer left behind are listed and swept by age.
@Suite("Pending uploads: multipart abort and sweep")
struct PendingUploadTests {
    /// A store whose files above 5 MiB go up in 5 MiB parts (S3's minimum), so multipart tests stay small.
    static func smallPartStore(_ server: TestS3) throws -> S3BlobStore {
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 5 << 20
        settings.partSize = 5 << 20
        settings.uploadConcurrency = 2
        return S3BlobStore(settings: settings)
    }

    @Test("a multipart put whose file does not hash to the declared digest throws corruptBlob and leaves nothing")
    func multipartDigestMismatchAborts() async throws {
        let store = try Self.smallPartStore(try TestS3.require())
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("blob.bin")
        var generator = ByteGenerator(seed: 77)
        let actual = try generator.writeFile(at: source, size: (11 << 20) + 123)  // three parts
        let declared = SHA256Digest.of(Data("a digest the file does not have".utf8))

        let error = await #expect(throws: ObjectStoreError.self) { try await store.put(fileAt: source, digest: declared) }
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains(actual.hex) == true && error?.reason.contains(declared.hex) == true)
        #expect(try await store.head(digest: declared) == nil)
        #expect(try await store.head(digest: actual) == nil)
        let open = try await BlockingExecutor.shared.run {
            try store.client.listAllMultipartUploads(keyPrefix: BlobKey.key(for: declared))
        }
        #expect(open.isEmpty, "uploads left open: \(open)")
        #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.isEmpty)

        // The same file under its real digest goes through the same multipart path and is stored.
        let put = try await store.put(fileAt: source, digest: actual)
        #expect(put == PutResult(digest: actual, size: Int64((11 << 20) + 123), alreadyPresent: false))
        #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.isEmpty)
        try await store.delete(digest: actual)
    }

    @Test("a multipart put whose parts are checked with the file's chain as each goes out stores the file as hashed, refuses it changed in any stride, and is not fooled by wrong states")
    func multipartCheckedWithTheChain() async throws {
        let store = try Self.smallPartStore(try TestS3.require())
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("blob.bin")
        var generator = ByteGenerator(seed: 79)
        let size = (11 << 20) + 321
        _ = try generator.writeFile(at: source, size: size)
        let original = try Data(contentsOf: source)
        let (digest, chain) = SHA256Chain.digest(size: Int64(size)) { feed in original.withUnsafeBytes { feed($0) } }
        if SHA256Chain.available { #expect(chain?.strideCount == 2) }
        // At the recorded stride (8 MiB) the 5 MiB parts become two of 8 MiB; at a 1 MiB stride they stay three of
        // 5 MiB, each checked over five strides. One byte changed in any part is caught.
        let fine = SHA256Chain.digest(size: Int64(size), stride: 1 << 20) { feed in original.withUnsafeBytes { feed($0) } }.chain
        for (chain, positions) in [(chain, [17, size - 5]), (fine, [17, (6 << 20) + 3, size - 5])] {
            for position in positions {
                var changed = original
                changed[position] ^= 0x40
                try changed.write(to: source)
                let error = await #expect(throws: ObjectStoreError.self) {
                    try await BlockingExecutor.shared.run { try store.put(fileAt: source, digest: digest, chain: chain) }
                }
                #expect(error?.kind == .corruptBlob, "byte \(position)")
                #expect(error?.reason.contains(SHA256Digest.of(changed).hex) == true, "the message names what the file hashes to")
                #expect(try await store.head(digest: digest) == nil)
                #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.isEmpty)
            }
            try original.write(to: source)
            let put = try await BlockingExecutor.shared.run { try store.put(fileAt: source, digest: digest, chain: chain) }
            #expect(put == PutResult(digest: digest, size: Int64(size), alreadyPresent: false))
            #expect(try await store.getData(digest: digest) == original)
            try await store.delete(digest: digest)
        }
        // A chain whose states are wrong refuses the good file, and the one-stream hash then lets it through.
        if let chain {
            var states = chain.states
            states[5] ^= 1
            let wrong = try #require(SHA256Chain(stride: chain.stride, states: states))
            let put = try await BlockingExecutor.shared.run { try store.put(fileAt: source, digest: digest, chain: wrong) }
            #expect(put == PutResult(digest: digest, size: Int64(size), alreadyPresent: false))
            #expect(try await store.getData(digest: digest) == original)
            try await store.delete(digest: digest)
        }
    }

    @Test("a single PUT whose file does not hash to the declared digest is aborted and leaves nothing")
    func singlePutDigestMismatchAborts() async throws {
        let store = try Self.smallPartStore(try TestS3.require())
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("small.bin")
        var generator = ByteGenerator(seed: 78)
        let actual = try generator.writeFile(at: source, size: (1 << 20) + 17)  // below the multipart threshold
        let declared = SHA256Digest.of(Data("not the small file's digest".utf8))

        let error = await #expect(throws: ObjectStoreError.self) { try await store.put(fileAt: source, digest: declared) }
        #expect(error?.kind == .corruptBlob)
        #expect(error?.reason.contains(actual.hex) == true && error?.reason.contains(declared.hex) == true)
        // SeaweedFS neither checks x-amz-content-sha256 nor drops a body cut short: the store cleans the key itself.
        #expect(try await store.head(digest: declared) == nil)
        let put = try await store.put(fileAt: source, digest: actual)
        #expect(put == PutResult(digest: actual, size: Int64((1 << 20) + 17), alreadyPresent: false))
        #expect(try await store.getData(digest: actual).count == (1 << 20) + 17)
        try await store.delete(digest: actual)
    }

    @Test("an abandoned multipart upload is listed, kept within the grace period and aborted after it")
    func abandonedMultipartIsSwept() async throws {
        let store = try Self.smallPartStore(try TestS3.require())
        let digest = SHA256Digest.of(Data("a blob whose writer crashed".utf8))
        let key = BlobKey.key(for: digest)
        // What a writer killed mid-upload leaves: an initiated upload holding one part.
        let uploadID = try await BlockingExecutor.shared.run {
            let id = try store.client.initiateMultipartUpload(key: key)
            _ = try store.client.uploadPart(key: key, uploadID: id, number: 1, data: Data(repeating: 7, count: 64 << 10))
            return id
        }
        let listed = try await BlockingExecutor.shared.run { try store.pendingUploads() }
        #expect(listed.map(\.key) == [key] && listed.map(\.uploadID) == [uploadID])
        #expect(abs(try #require(listed.first).started.timeIntervalSinceNow) < 300)

        let kept = try await BlockingExecutor.shared.run { try store.sweepPendingUploads(olderThan: Date().addingTimeInterval(-3600)) }
        #expect(kept.aborted.isEmpty && kept.keptYoung == 1)
        // A cutoff two seconds ahead stands for "later" (Initiated has one-second resolution): no sleeping.
        let later = Date().addingTimeInterval(2)
        let dry = try await BlockingExecutor.shared.run { try store.sweepPendingUploads(olderThan: later, dryRun: true) }
        #expect(dry.aborted.map(\.uploadID) == [uploadID])
        #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.count == 1)

        let swept = try await BlockingExecutor.shared.run { try store.sweepPendingUploads(olderThan: later) }
        #expect(swept.aborted.map(\.uploadID) == [uploadID] && swept.keptYoung == 0)
        #expect(try await BlockingExecutor.shared.run { try store.pendingUploads() }.isEmpty)
        // Aborting again is not an error (the writer or another gc may have got there first).
        try await BlockingExecutor.shared.run { try store.abort(try #require(listed.first)) }
        #expect(try await store.head(digest: digest) == nil)
    }

    @Test("listing follows the server's markers across pages of one upload each")
    func listingPaginates() async throws {
        let store = try Self.smallPartStore(try TestS3.require())
        let keys = (0..<3).map { BlobKey.key(for: SHA256Digest.of(Data("page \($0)".utf8))) }
        let ids = try await BlockingExecutor.shared.run { try keys.map { try store.client.initiateMultipartUpload(key: $0) } }
        defer { for (key, id) in zip(keys, ids) { try? store.client.abortMultipartUpload(key: key, uploadID: id) } }
        let paged = try await BlockingExecutor.shared.run { try store.client.listAllMultipartUploads(keyPrefix: BlobKey.folder, pageSize: 1) }
        #expect(Set(paged.map(\.uploadID)) == Set(ids) && paged.count == 3)
        #expect(Set(paged.map(\.key)) == Set(keys))
    }

    @Test("a local store lists its temporary files and sweeps only those older than the cutoff")
    func localTemporaryFilesAreSwept() throws {
        let root = try Fixtures.temporaryDirectory("quiver-blobs")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try LocalBlobStore(root: root)
        let blob = try store.put(data: Data("a real blob".utf8))
        let folder = root.appendingPathComponent("sha256")
        let stale = folder.appendingPathComponent(".tmp-crashed-writer")
        let fresh = folder.appendingPathComponent(".tmp-live-writer")
        try Data(repeating: 1, count: 1000).write(to: stale)
        try Data(repeating: 2, count: 10).write(to: fresh)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: stale.path)

        let pending = try store.pendingUploads().sorted { $0.key < $1.key }
        #expect(pending.map(\.key) == [".tmp-crashed-writer", ".tmp-live-writer"])
        #expect(pending.map(\.size) == [1000, 10])

        let sweep = try store.sweepPendingUploads(olderThan: Date().addingTimeInterval(-3600))
        #expect(sweep.aborted.map(\.key) == [".tmp-crashed-writer"] && sweep.keptYoung == 1)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: fresh.path))
        #expect(try store.getData(digest: blob.digest) == Data("a real blob".utf8))
        // Only the store's own temporary files can be aborted: a blob key is refused, not deleted.
        let forged = PendingUpload(key: BlobKey.key(for: blob.digest), uploadID: blob.digest.hex, started: .distantPast)
        #expect(throws: ObjectStoreError.self) { try store.abort(forged) }
        #expect(try store.exists(digest: blob.digest))
    }
}
