import Foundation
import ObjectStore
import QuiverCore
import Synchronization
import Testing

/// The async blob-store API never runs a blocking call (libcurl, file I/O) on the caller's cooperative thread:
/// every blocking method it reaches runs on `BlockingExecutor.shared`.
@Suite("BlobStore async API runs on the blocking executor")
struct AsyncOffloadTests {
    /// Records, for every blocking call, whether it ran on the shared executor's threads.
    final class SpyStore: BlobStore {
        let calls = Mutex<[(String, Bool)]>([])
        let location = "spy://"
        static let digest = SHA256Digest.of(Data("spy".utf8))

        private func record(_ name: String) {
            let onExecutor = BlockingExecutor.shared.ownsCurrentThread
            calls.withLock { $0.append((name, onExecutor)) }
        }

        func put(fileAt url: URL, digest: SHA256Digest?) throws -> PutResult {
            record("put(fileAt:)")
            return PutResult(digest: Self.digest, size: 3, alreadyPresent: false)
        }
        func put(data: Data) throws -> PutResult {
            record("put(data:)")
            return PutResult(digest: Self.digest, size: 3, alreadyPresent: false)
        }
        func put(from source: any ByteSource, size: Int64, digest: SHA256Digest) throws -> PutResult {
            record("put(from:)")
            return PutResult(digest: Self.digest, size: size, alreadyPresent: false)
        }
        func get(digest: SHA256Digest, known: KnownBlob?, to fileURL: URL) throws -> Int64 { record("get(to:)"); return 3 }
        func get(digest: SHA256Digest, range: Range<Int64>?, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
            record("get(into:)")
            return 0
        }
        func getData(digest: SHA256Digest) throws -> Data { record("getData"); return Data("spy".utf8) }
        func getRange(digest: SHA256Digest, range: Range<Int64>) throws -> Data { record("getRange"); return Data() }
        func head(digest: SHA256Digest) throws -> BlobInfo? { record("head"); return nil }
        func delete(digest: SHA256Digest) throws { record("delete") }
        func listPage(hexPrefix: String, continuation: String?, maxKeys: Int) throws -> BlobPage {
            record("listPage")
            return BlobPage(blobs: [], continuation: nil)
        }
        func pendingUploads() throws -> [PendingUpload] { record("pendingUploads"); return [] }
        func abort(_ upload: PendingUpload) throws { record("abort") }
    }

    @Test func everyAsyncOperationRunsOnTheSharedExecutor() async throws {
        let store = SpyStore()
        let digest = SpyStore.digest
        #expect(!BlockingExecutor.shared.ownsCurrentThread, "the test itself runs on the cooperative pool")
        _ = try await store.put(fileAt: URL(fileURLWithPath: "/nonexistent"), digest: digest)
        _ = try await store.put(data: Data("spy".utf8))
        _ = try await store.get(digest: digest, to: URL(fileURLWithPath: "/nonexistent"))
        _ = try await store.put(from: DataSource(Data("spy".utf8)), size: 3, digest: digest)
        _ = try await store.get(digest: digest, range: nil) { _ in }
        let own = BlockingExecutor(maxThreads: 1, name: "spy-own")
        _ = try await store.get(digest: digest, range: 0..<1, on: own) { _ in }
        own.shutdown()
        _ = try await store.getData(digest: digest)
        _ = try await store.getRange(digest: digest, range: 0..<1)
        _ = try await store.head(digest: digest)
        _ = try await store.exists(digest: digest)
        try await store.delete(digest: digest)
        _ = try await store.listPage(hexPrefix: "", continuation: nil, maxKeys: 10)
        _ = try await store.list(hexPrefix: "")
        let calls = store.calls.withLock { $0 }
        #expect(calls.count == 13)
        for (name, onExecutor) in calls.prefix(5) + calls.suffix(7) {
            #expect(onExecutor, "\(name) ran on the caller's thread")
        }
        #expect(calls[5].0 == "get(into:)" && !calls[5].1, "an executor passed in is used instead of the shared one")
    }
}
