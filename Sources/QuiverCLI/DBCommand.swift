import ArgumentParser
import Foundation
import Catalog
import QuiverCore
import Registry

/// `quiver db …`: database maintenance.
public struct DBCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the catalog database.",
        subcommands: [Migrate.self, GrantAppRole.self]
    )

    public init() {}

    /// `quiver db migrate`: apply pending schema migrations and list what was applied.
    public struct Migrate: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "migrate",
            abstract: "Apply pending catalog migrations (embedded in this binary); a no-op when up to date."
        )

        @Option(name: .long, help: "PostgreSQL URL (default: QUIVER_DATABASE_URL, DATABASE_URL, else the embedded server under QUIVER_HOME).")
        var databaseURL: String?

        @Option(name: .customLong("app-role"), help: "After migrating, grant this role the application's privileges (append-only audit; default: QUIVER_APP_ROLE).")
        var appRole: String?

        public init() {}

        var resolvedAppRole: String? {
            let role = appRole ?? ProcessInfo.processInfo.environment["QUIVER_APP_ROLE"]
            return role.flatMap { $0.isEmpty ? nil : $0 }
        }

        public func validate() throws {
            if let role = resolvedAppRole { try GrantAppRole.check(role) }
        }

        public func run() throws {
            let catalog = try RegistryConfiguration(databaseURL: databaseURL).openCatalog(maxConnections: 1, migrate: false)
            defer { catalog.pool.close() }
            let applied = try catalog.migrate()
            if let role = resolvedAppRole {
                try catalog.grantAppRole(role)
                print(AppRole.grantedSummary(role))
            }
            if applied.isEmpty {
                print("catalog is up to date (\(Migration.embedded.count) migration(s))")
            } else {
                for migration in applied {
                    print("applied \(NumberFormat.zeroPadded(migration.version, 4))_\(migration.name) (\(migration.durationMilliseconds) ms)")
                }
            }
        }
    }

    /// `quiver db grant-app-role ROLE`: give the application's role what it needs and no more.
    public struct GrantAppRole: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "grant-app-role",
            abstract: "Grant ROLE the application's privileges: \(AppRole.privilegesSummary).",
            discussion: """
                Run as the database owner (the role that runs 'db migrate'), after migrating. The server and workers then
                connect as ROLE, which \(AppRole.auditRestrictions).
                ROLE must exist, own nothing and not be a superuser. 'db migrate --app-role ROLE' (or QUIVER_APP_ROLE)
                re-applies the grants after every migration, so new tables are covered.
                """)

        @Argument(help: "The application's role (lower-case letters, digits and '_').") var role: String
        @Option(name: .long, help: "PostgreSQL URL of the owner (default: QUIVER_DATABASE_URL, DATABASE_URL).")
        var databaseURL: String?

        public init() {}

        static func check(_ role: String) throws {
            do { try AppRole.validate(role) } catch let error as CatalogError {
                throw OptionError("invalid_app_role", error.reason, hint: error.hint)
            }
        }

        public func validate() throws { try Self.check(role) }

        public func run() throws {
            let catalog = try RegistryConfiguration(databaseURL: databaseURL).openCatalog(maxConnections: 1, migrate: false)
            defer { catalog.pool.close() }
            try catalog.grantAppRole(role)
            print(AppRole.grantedSummary(role))
        }
    }
}
