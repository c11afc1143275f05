import Foundation
import Postgres
import QuiverCore

/// The `blobs` table: every blob a version references, with its size; the garbage collector's view of references.
public struct BlobRecords: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Records a stored blob (a no-op when already recorded), with its chaining states when known: a blob recorded
    /// without them gains them the next time it is recorded with them.
    public func record(_ digest: SHA256Digest, size: Int64, chain: SHA256Chain? = nil) throws {
        guard let chain else {
            try connection.query("INSERT INTO blobs (sha256, size) VALUES (\(digest.hex), \(size)) ON CONFLICT (sha256) DO NOTHING")
            return
        }
        try connection.query("""
            INSERT INTO blobs (sha256, size, chain) VALUES (\(digest.hex), \(size), \(Data(chain.encoded)))
            ON CONFLICT (sha256) DO UPDATE SET chain = excluded.chain WHERE blobs.chain IS NULL
            """)
    }

    /// The blob's chaining states, when recorded and well formed (nil otherwise: readers hash in one stream).
    public func chain(of digest: SHA256Digest) throws -> SHA256Chain? {
        let rows = try connection.query("SELECT chain FROM blobs WHERE sha256 = \(digest.hex)").decode(Data?.self)
        return rows.first.flatMap { $0 }.flatMap { SHA256Chain(encoded: [UInt8]($0)) }
    }

    /// Hex digests of the recorded blobs larger than `size` bytes that have no chaining states (recorded before
    /// migration 0010, or on a machine without the SHA extensions): what `fsck --deep --repair` can give them.
    public func digestsWithoutChain(largerThan size: Int64) throws -> Set<String> {
        Set(try connection.query("SELECT sha256 FROM blobs WHERE chain IS NULL AND size > \(size)").map { try $0.decode(String.self, at: 0) })
    }

    /// Hex digests of every blob a version references.
    public func referencedDigests() throws -> Set<String> {
        Set(try connection.query("""
            SELECT blob_sha256 FROM version_blobs
            UNION SELECT config_digest FROM adapter_versions UNION SELECT weights_digest FROM adapter_versions
            """).map { try $0.decode(String.self, at: 0) })
    }

    /// Rows of blobs no version references, each with whether it was recorded before `cutoff`.
    public func unreferenced(cutoff: Date) throws -> [(digest: String, olderThanCutoff: Bool)] {
        try connection.query("""
            SELECT sha256, created_at < \(cutoff) FROM blobs b
            WHERE NOT EXISTS (SELECT 1 FROM version_blobs vb WHERE vb.blob_sha256 = b.sha256)
              AND NOT EXISTS (SELECT 1 FROM adapter_versions v WHERE v.config_digest = b.sha256 OR v.weights_digest = b.sha256)
            """).map { (try $0.decode(String.self, at: 0), try $0.decode(Bool.self, at: 1)) }
    }

    /// Forgets these blob rows.
    public func delete(hexDigests: [String]) throws {
        guard !hexDigests.isEmpty else { return }
        try connection.query("DELETE FROM blobs WHERE sha256 = ANY(\(hexDigests))")
    }
}
