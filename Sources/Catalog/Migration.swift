import Foundation
import QuiverCore

/// One numbered SQL file from `Migrations/` (`0001_catalog.sql` is version 1, name `catalog`).
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The file name it came from.
    public var fileName: String { NumberFormat.zeroPadded(version, 4) + "_\(name).sql" }

    /// The SHA-256 of the file's text, recorded when applied and compared on every later run.
    public var checksum: SHA256Digest { SHA256Digest.of(Data(sql.utf8)) }

    /// The migrations compiled into this binary (generated from `Migrations/` by `scripts/gen-migrations.sh`).
    public static var embedded: [Migration] { EmbeddedMigrations.all }
}

/// A migration that was applied by a `Migrator.migrate()` call.
public struct AppliedMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let durationMilliseconds: Int
}
