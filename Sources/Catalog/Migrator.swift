import Foundation
import Postgres
import QuiverCore

/// Applies numbered SQL migrations, once each, under a database-wide advisory lock.
///
/// Each pending migration runs in its own transaction together with its `schema_migrations` row, so a failure
/// leaves the database at the previous version. An applied migration whose text changed is refused.
public struct Migrator: Sendable {
    /// An arbitrary constant shared by every Quiver process: the key of the advisory lock.
    public static let advisoryLockKey: Int64 = 0x5155_4956_4552  // "QUIVER"

    public let migrations: [Migration]

    /// - Parameter migrations: the files to apply; defaults to those embedded in the binary.
    public init(migrations: [Migration] = Migration.embedded) {
        self.migrations = migrations
    }

    /// Checks that versions run 1…N without gaps or duplicates.
    public static func validate(_ migrations: [Migration]) throws {
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            let listed = migrations.map(\.fileName).joined(separator: ", ")
            throw CatalogError(
                kind: .migrationsNotContiguous,
                reason: "migration \(migration.fileName) is at position \(index + 1); versions must run 1…N with no gaps or duplicates (have: \(listed))",
                hint: "renumber the new file to the next free number"
            )
        }
    }

    /// Brings the database up to date on `connection`, and returns the migrations it applied (empty when
    /// already current). Concurrent callers serialize on the advisory lock; the later ones find nothing to do.
    @discardableResult
    public func migrate(on connection: PostgresConnection) throws -> [AppliedMigration] {
        try Self.validate(migrations)
        // Nearly every open finds the catalog current, and one unlocked read shows it: a migration commits together
        // with its row, and rows are never removed. Anything else (no table yet, pending, unknown or changed
        // migrations) is decided under the lock, below.
        if try isCurrent(on: connection) { return [] }
        try connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))") }

        // Created only when missing: an application role (no CREATE on the schema) opens a current catalog
        // without tripping over a CREATE it may not run, even with IF NOT EXISTS.
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL").single().decode(Bool.self, at: 0)
        if !exists { try connection.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     int PRIMARY KEY,
                name        text NOT NULL,
                sha256      text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms int NOT NULL
            )
            """) }
        let recorded = try connection.query("SELECT version, name, sha256 FROM schema_migrations ORDER BY version")
            .decode((Int, String, String).self)
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, name, sha256) in recorded {
            guard let migration = known[version] else {
                throw CatalogError(
                    kind: .databaseNewerThanBinary,
                    reason: "the database has migration \(version) (\(name)) applied, which this binary does not know (it knows 1…\(migrations.count))",
                    hint: "use a Quiver binary at least as new as the one that migrated this database"
                )
            }
            if migration.checksum.hex != sha256 {
                throw CatalogError.checksumMismatch(migration, recorded: sha256)
            }
        }

        let appliedVersions = Set(recorded.map(\.0))
        var applied: [AppliedMigration] = []
        for migration in migrations where !appliedVersions.contains(migration.version) {
            let clock = ContinuousClock()
            let start = clock.now
            try connection.transaction { tx in
                try tx.executeScript(SQLQuery(unsafeSQL: migration.sql))
                let elapsed = start.duration(to: clock.now)
                let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                try tx.query("""
                    INSERT INTO schema_migrations (version, name, sha256, duration_ms)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum.hex), \(ms))
                    """)
                applied.append(AppliedMigration(version: migration.version, name: migration.name, durationMilliseconds: ms))
            }
        }
        return applied
    }

    /// Whether `schema_migrations` records exactly these migrations, in order, with their checksums.
    private func isCurrent(on connection: PostgresConnection) throws -> Bool {
        let recorded: [(Int, String)]
        do {
            recorded = try connection.query("SELECT version, sha256 FROM schema_migrations ORDER BY version").decode((Int, String).self)
        } catch let error as PostgresError where error.sqlState == SQLState.undefinedTable {
            return false
        }
        return recorded.count == migrations.count
            && zip(recorded, migrations).allSatisfy { $0.0 == $1.version && $0.1 == $1.checksum.hex }
    }

    /// Runs `migrate(on:)` on a connection borrowed from the pool.
    @discardableResult
    public func migrate(pool: ConnectionPool) throws -> [AppliedMigration] {
        try pool.withConnection { try migrate(on: $0) }
    }
}
