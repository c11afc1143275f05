import Catalog
import Foundation
import ObjectStore
import Postgres
import QuiverCore

/// The registry's use cases over one catalog (PostgreSQL) and one content-addressed blob store.
///
/// Every method blocks the calling thread (database and network I/O); call them from a thread, a CLI command or
/// `Task.detached`. Use cases are in `Registry+<UseCase>.swift`.
public final class Registry: Sendable {
    public let pool: ConnectionPool
    public let blobs: any BlobStore
    /// Who is acting: recorded on every version, merge, alias move and audit event.
    public let actor: String

    public init(pool: ConnectionPool, blobs: any BlobStore, actor: String) {
        self.pool = pool
        self.blobs = blobs
        self.actor = actor
    }

    /// Opens the catalog at `databaseURL` (migrating it) and the blob store at `blobStoreURL`.
    public static func open(databaseURL: String, blobStoreURL: String, actor: String, maxConnections: Int = 4) throws -> Registry {
        let catalog = try Catalog.open(url: databaseURL, maxConnections: maxConnections)
        return Registry(pool: catalog.pool, blobs: try BlobStores.open(url: blobStoreURL), actor: actor)
    }

    /// `--actor`, else `QUIVER_ACTOR`, else the operating-system user.
    public static func resolveActor(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for candidate in [explicit, environment["QUIVER_ACTOR"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        if let user = environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid-\(geteuid())"
    }

    /// `--blob-store`, else `QUIVER_BLOB_STORE`, else `blobs/` under `QuiverHome` (`$QUIVER_HOME`, `~/.quiver`, or
    /// `/var/lib/quiver` as root).
    public static func resolveBlobStore(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for candidate in [explicit, environment["QUIVER_BLOB_STORE"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        return quiverHome(environment: environment).appendingPathComponent("blobs", isDirectory: true).path
    }

    /// The embedded default's data directory (see `QuiverHome`).
    public static func quiverHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        QuiverHome.directory(environment: environment)
    }

    /// Appends an audit event inside the caller's transaction.
    func audit(_ connection: PostgresConnection, action: String, subject: String, details: some Encodable = [String: String]()) throws {
        let json = try PostgresJSON(encoding: details)
        try connection.query(
            "INSERT INTO audit_events (actor, action, subject, details) VALUES (\(actor), \(action), \(subject), \(json))")
    }

    /// Runs `body` in a transaction, retrying when PostgreSQL reports a serialization failure, a deadlock or a
    /// unique violation (a concurrent writer won a race; the retry sees its row).
    func retryingTransaction<T>(on connection: PostgresConnection? = nil, attempts: Int = 8, _ body: (PostgresConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                if let connection { return try connection.transaction(body) }
                return try pool.transaction(body)
            } catch let error as PostgresError where attempt < attempts && Self.isRetryable(error) {
                usleep(UInt32.random(in: 1_000...20_000) * UInt32(attempt))
            }
        }
    }

    static func isRetryable(_ error: PostgresError) -> Bool {
        [SQLState.serializationFailure, SQLState.deadlockDetected, SQLState.uniqueViolation].contains(error.sqlState ?? "")
    }

    /// A fresh scratch directory for downloads and merge outputs.
    func scratchDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
