import Foundation
import Postgres
import QuiverTesting
import Testing
@testable import Catalog

@Suite("EmbeddedPostgres and database location")
struct EmbeddedPostgresTests {
    @Test func configuredURLPrecedence() {
        let env = ["QUIVER_DATABASE_URL": "postgresql://q/1", "DATABASE_URL": "postgresql://d/2"]
        #expect(DatabaseLocation.configuredURL(explicit: "postgresql://x/0", environment: env) == "postgresql://x/0")
        #expect(DatabaseLocation.configuredURL(explicit: nil, environment: env) == "postgresql://q/1")
        #expect(DatabaseLocation.configuredURL(explicit: nil, environment: ["DATABASE_URL": "postgresql://d/2"]) == "postgresql://d/2")
        #expect(DatabaseLocation.configuredURL(explicit: nil, environment: [:]) == nil)
        #expect(EmbeddedPostgres.defaultDirectory(environment: ["QUIVER_HOME": "/tmp/qh"]).path == "/tmp/qh/pg")
    }

    /// Starts a real private server from scratch, migrates it, and checks a second start reuses it.
    @Test func startsMigratesAndIsReused() throws {
        _ = try TestPostgres.requireURL()  // same binaries as the test server; skipped where that is absent
        let home = URL(fileURLWithPath: "/tmp/quiver-embedded-\(UUID().uuidString.prefix(8))")
        let server = EmbeddedPostgres(directory: home.appendingPathComponent("pg"))
        defer {
            try? server.stop()
            try? FileManager.default.removeItem(at: home)
        }
        let url = try DatabaseLocation.resolve(explicit: nil, environment: ["QUIVER_HOME": home.path])
        #expect(server.isRunning)
        let catalog = try Catalog.open(url: url, maxConnections: 1)
        #expect(try catalog.migrate().isEmpty, "open already migrated")
        let pid = try catalog.pool.query("SELECT pg_postmaster_start_time()::text").single().decode(String.self, at: 0)
        catalog.pool.close()

        let again = try server.start()
        #expect(again == url)
        let conn = try PostgresConnection(url: again)
        let samePid = try conn.query("SELECT pg_postmaster_start_time()::text").single().decode(String.self, at: 0)
        #expect(samePid == pid, "the running server must be reused, not restarted")
        #expect(try conn.query("SELECT count(*) FROM schema_migrations").single().decode(Int.self, at: 0) == Migration.embedded.count)
        conn.close()

        try server.stop()
        #expect(!server.isRunning)
    }
}
