import ArgumentParser
import Catalog
import QuiverCore
import Registry

/// `quiver db …`: database maintenance.
public struct DBCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the catalog database.",
        subcommands: [Migrate.self]
    )

    public init() {}

    /// `quiver db migrate`: apply pending schema migrations and list what was applied.
    public struct Migrate: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Apply pending catalog migrations (embedded in this binary); a no-op when up to date."
        )

        @Option(name: .long, help: "PostgreSQL URL (default: QUIVER_DATABASE_URL, DATABASE_URL, else the embedded server under QUIVER_HOME).")
        var databaseURL: String?

        public init() {}

        public func run() throws {
            let catalog = try RegistryConfiguration(databaseURL: databaseURL).openCatalog(maxConnections: 1, migrate: false)
            defer { catalog.pool.close() }
            let applied = try catalog.migrate()
            if applied.isEmpty {
                print("catalog is up to date (\(Migration.embedded.count) migration(s))")
            } else {
                for migration in applied {
                    print("applied \(NumberFormat.zeroPadded(migration.version, 4))_\(migration.name) (\(migration.durationMilliseconds) ms)")
                }
            }
        }
    }
}
