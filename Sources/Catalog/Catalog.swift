import Foundation
import Postgres

/// The registry's catalog database: a connection pool over a migrated schema, and the typed stores that hold
/// every query (`Stores/`): versions, merges, lineage, aliases, evaluations, policy, jobs, blobs and the audit log.
///
/// Callers never write SQL: they take a ``CatalogSession`` (one connection, maybe inside a transaction) and call
/// its stores. Every method blocks the calling thread inside libpq; async callers go through the pool's executor.
public struct Catalog: Sendable {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// Opens the catalog at `url` and applies pending migrations.
    /// - Parameter url: a `postgresql://` URL; use `DatabaseLocation.resolve` to pick one (or start the embedded
    ///   server) from flags and environment.
    public static func open(url: String, maxConnections: Int = 4, migrate: Bool = true) throws -> Catalog {
        let catalog = Catalog(pool: ConnectionPool(url: url, maxSize: maxConnections))
        if migrate { try catalog.migrate() }
        return catalog
    }

    /// Applies the embedded migrations that are not yet applied; returns those it applied.
    @discardableResult
    public func migrate() throws -> [AppliedMigration] {
        try Migrator().migrate(pool: pool)
    }

    /// Applies pending migrations using a pool.
    @discardableResult
    public static func migrate(pool: ConnectionPool) throws -> [AppliedMigration] {
        try Migrator().migrate(pool: pool)
    }

    /// Grants `role` the application's privileges (see ``AppRole``); run as the owner, after ``migrate()``.
    public func grantAppRole(_ role: String) throws {
        try pool.withConnection { try AppRole.grant(to: role, on: $0) }
    }

    /// Runs one trivial statement: whether the database answers (readiness checks).
    public func ping() throws {
        try read(reconnectPatience: .zero) { _ = try $0.connection.query("SELECT 1") }
    }

    /// Runs `body` with a session on a pooled connection, outside any transaction (each statement commits alone).
    ///
    /// A lost connection or a server that refuses connections (a restart) is retried for up to `reconnectPatience`,
    /// as ``transaction(on:attempts:reconnectPatience:_:)`` does: a command that reads before it writes (a merge
    /// resolving its inputs) rides out a restart instead of failing on a pooled connection the restart broke.
    /// `body` must be safe to re-run (reads, and single idempotent statements); pass `.zero` where an answer now
    /// matters more than one later (readiness probes, best-effort bookkeeping).
    public func read<T>(reconnectPatience: Duration = .seconds(30), _ body: (CatalogSession) throws -> T) throws -> T {
        try retryingOnConnectionLoss(patience: reconnectPatience) {
            try pool.withConnection { try body(CatalogSession($0)) }
        }
    }

    /// Runs `body` in one transaction, retrying it when PostgreSQL reports a serialization failure, a deadlock or a
    /// unique violation (a concurrent writer won a race; the retry sees its row). `body` must be safe to re-run.
    ///
    /// On a pooled connection (no `connection` given) a lost connection or a server that refuses connections (a
    /// restart) is also retried, for up to `reconnectPatience`: the pool replaces broken connections. On a given
    /// connection that cannot help, and the error propagates to the caller's own retry (``retryingOnConnectionLoss(patience:_:)``).
    public func transaction<T>(
        on connection: PostgresConnection? = nil, attempts: Int = 8, reconnectPatience: Duration = .seconds(30),
        _ body: (CatalogSession) throws -> T
    ) throws -> T {
        if connection == nil {
            return try retryingOnConnectionLoss(patience: reconnectPatience) {
                try transactionRetryingRaces(on: nil, attempts: attempts, body)
            }
        }
        return try transactionRetryingRaces(on: connection, attempts: attempts, body)
    }

    private func transactionRetryingRaces<T>(on connection: PostgresConnection?, attempts: Int, _ body: (CatalogSession) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                if let connection { return try connection.transaction { try body(CatalogSession($0)) } }
                return try pool.transaction { try body(CatalogSession($0)) }
            } catch let error as PostgresError where attempt < attempts && Self.isRetryable(error) {
                usleep(UInt32.random(in: 1_000...20_000) * UInt32(attempt))
            }
        }
    }

    /// Runs `body` again while it fails because the database connection was lost or could not be opened (a server
    /// restart, a failover), waiting 0.1 s, 0.2 s, … (at most 5 s) between attempts, for up to `patience` in all.
    /// `body` must be safe to re-run: the registry's writes are (a version is found by its content digest, a merge
    /// by its request identity, an upload of a blob already stored is skipped).
    public func retryingOnConnectionLoss<T>(patience: Duration = .seconds(30), _ body: () throws -> T) throws -> T {
        let deadline = ContinuousClock.now + patience
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try body()
            } catch let error as PostgresError where Self.isConnectionLoss(error) && ContinuousClock.now + delay < deadline {
                Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// A connection that broke, or could not be made (not bad credentials: retrying cannot mend those).
    public static func isConnectionLoss(_ error: PostgresError) -> Bool {
        error.kind == .connectionLost || error.kind == .connectionFailed || error.sqlState == SQLState.adminShutdown
            || error.sqlState == "57P03" // cannot_connect_now: the server is starting up
    }

    /// Whether a failed transaction may succeed when re-run.
    public static func isRetryable(_ error: PostgresError) -> Bool {
        [SQLState.serializationFailure, SQLState.deadlockDetected, SQLState.uniqueViolation].contains(error.sqlState ?? "")
    }

    /// Runs `body` holding the blob fence in shared mode on one connection, so the garbage collector (which holds it
    /// exclusively, ``withExclusiveBlobFence(_:)``) never deletes a blob between its upload and the commit that
    /// references it. `body` gets that connection for its own transaction.
    /// Waits at most `timeout` for the fence (only a running gc holds it against writers), then fails with
    /// `postgres.lock_not_available` (kind unavailable).
    public func withBlobFence<T>(timeout: Duration = .seconds(300), _ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection { connection in
            let locks = CatalogLocks(connection)
            try locks.lockBlobFenceShared(timeout: timeout)
            defer { locks.unlockBlobFenceShared() }
            return try body(connection)
        }
    }

    /// Runs `body` holding the blob fence exclusively: no writer is between an upload and its commit meanwhile.
    /// Waits at most `timeout` for writers to leave the fence (a stopped writer holds it), then fails with
    /// `postgres.lock_not_available` (kind unavailable), and the writers queued behind this request go on.
    public func withExclusiveBlobFence<T>(timeout: Duration = .seconds(30), _ body: (CatalogSession) throws -> T) throws -> T {
        try pool.withConnection { connection in
            let locks = CatalogLocks(connection)
            try locks.lockBlobFenceExclusive(timeout: timeout)
            defer { locks.unlockBlobFenceExclusive() }
            return try body(CatalogSession(connection))
        }
    }
}

/// One connection's view of the catalog: the typed stores over it. Inside ``Catalog/transaction(on:attempts:_:)``
/// every store's statements belong to that transaction.
public struct CatalogSession: Sendable {
    public let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    public var versions: VersionStore { VersionStore(connection) }
    public var blobs: BlobRecords { BlobRecords(connection) }
    public var lineage: LineageStore { LineageStore(connection) }
    public var merges: MergeLog { MergeLog(connection) }
    public var aliases: AliasStore { AliasStore(connection) }
    public var evaluations: EvaluationStore { EvaluationStore(connection) }
    public var policy: PolicyStore { PolicyStore(connection) }
    public var jobs: JobQueue { JobQueue(connection) }
    public var audit: AuditLog { AuditLog(connection) }
    public var locks: CatalogLocks { CatalogLocks(connection) }
    public var tokens: TokenStore { TokenStore(connection) }
    public var webhooks: WebhookStore { WebhookStore(connection) }
    public var integrity: IntegrityChecks { IntegrityChecks(connection) }
    /// Synthetic rows for benchmarks (scratch catalogs only).
    public var synthetic: SyntheticCatalog { SyntheticCatalog(connection) }
}
