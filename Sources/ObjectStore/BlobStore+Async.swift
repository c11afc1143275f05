import Foundation
import QuiverCore

/// Async forms of every ``BlobStore`` operation: the blocking call runs on QuiverCore's ``BlockingExecutor/shared``
/// while the calling task suspends, never on a cooperative thread. In async code Swift picks these overloads
/// automatically.
extension BlobStore {
    public func put(fileAt url: URL, digest: SHA256Digest? = nil) async throws -> PutResult {
        try await BlockingExecutor.shared.run { try self.put(fileAt: url, digest: digest) }
    }

    public func put(data: Data) async throws -> PutResult {
        try await BlockingExecutor.shared.run { try self.put(data: data) }
    }

    /// See ``BlobStore/put(from:size:digest:)``; `source.read` runs on an `executor` thread, where it may block.
    ///
    /// The thread is held for the whole transfer (a slow client holds it as long): a server streaming many
    /// uploads at once passes an executor sized for them rather than the shared one (8 threads).
    public func put(
        from source: any ByteSource, size: Int64, digest: SHA256Digest, on executor: BlockingExecutor = .shared
    ) async throws -> PutResult {
        try await executor.run { try self.put(from: source, size: size, digest: digest) }
    }

    /// See ``BlobStore/get(digest:range:into:)``; `sink` is called on an `executor` thread, where it may block (to
    /// wait for a slow client); the thread is held for the whole transfer, as for the streamed put.
    @discardableResult
    public func get(
        digest: SHA256Digest, range: Range<Int64>?, on executor: BlockingExecutor = .shared,
        into sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> Int64 {
        try await executor.run { try self.get(digest: digest, range: range, into: sink) }
    }

    @discardableResult
    public func get(digest: SHA256Digest, to fileURL: URL) async throws -> Int64 {
        try await BlockingExecutor.shared.run { try self.get(digest: digest, to: fileURL) }
    }

    public func getData(digest: SHA256Digest) async throws -> Data {
        try await BlockingExecutor.shared.run { try self.getData(digest: digest) }
    }

    /// Unverified, like the blocking form: see ``BlobStore/getRange(digest:range:)``.
    public func getRange(digest: SHA256Digest, range: Range<Int64>) async throws -> Data {
        try await BlockingExecutor.shared.run { try self.getRange(digest: digest, range: range) }
    }

    public func head(digest: SHA256Digest) async throws -> BlobInfo? {
        try await BlockingExecutor.shared.run { try self.head(digest: digest) }
    }

    public func exists(digest: SHA256Digest) async throws -> Bool {
        try await BlockingExecutor.shared.run { try self.exists(digest: digest) }
    }

    public func delete(digest: SHA256Digest) async throws {
        try await BlockingExecutor.shared.run { try self.delete(digest: digest) }
    }

    public func listPage(hexPrefix: String, continuation: String?, maxKeys: Int) async throws -> BlobPage {
        try await BlockingExecutor.shared.run { try self.listPage(hexPrefix: hexPrefix, continuation: continuation, maxKeys: maxKeys) }
    }

    public func list(hexPrefix: String = "", pageSize: Int = 1000) async throws -> [BlobInfo] {
        try await BlockingExecutor.shared.run { try self.list(hexPrefix: hexPrefix, pageSize: pageSize) }
    }
}
