import QuiverCore

/// A catalog or migration problem that is not a plain database error.
public struct CatalogError: NamedError, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The migration list has a gap, a duplicate, or does not start at 1.
        case migrationsNotContiguous
        /// An applied migration's file changed since it was applied.
        case migrationChecksumMismatch
        /// The database has applied a version this binary does not know (a newer binary migrated it).
        case databaseNewerThanBinary
        /// A role named for the application is malformed, missing, or too powerful to be held to append-only audit.
        case invalidAppRole
    }

    public let kind: Kind
    public let reason: String
    public let hint: String

    public var code: String {
        switch kind {
        case .migrationsNotContiguous: return "catalog.migrations_not_contiguous"
        case .migrationChecksumMismatch: return "catalog.migration_checksum_mismatch"
        case .databaseNewerThanBinary: return "catalog.database_newer_than_binary"
        case .invalidAppRole: return "catalog.invalid_app_role"
        }
    }

    public var errorKind: ErrorKind {
        switch kind {
        case .migrationsNotContiguous: .internal
        case .migrationChecksumMismatch: .integrity
        case .databaseNewerThanBinary: .conflict
        case .invalidAppRole: .invalidInput
        }
    }

    static func checksumMismatch(_ migration: Migration, recorded: String) -> CatalogError {
        CatalogError(
            kind: .migrationChecksumMismatch,
            reason: "migration \(migration.fileName) was changed after it was applied: the database recorded sha256 "
                + "\(recorded), the file now has \(migration.checksum.hex)",
            hint: "never edit an applied migration: restore \(migration.fileName) to its applied text "
                + "(git checkout) and put the change in a new, higher-numbered migration"
        )
    }
}
