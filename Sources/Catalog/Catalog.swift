import Foundation
import Postgres

/// The registry's catalog database: a connection pool over a migrated schema.
///
/// The registry's typed queries (adapters, versions, lineage, …) are added as `Catalog+Concern.swift` extensions.
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
}
