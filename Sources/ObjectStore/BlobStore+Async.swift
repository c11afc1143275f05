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
