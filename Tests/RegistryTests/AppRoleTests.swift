import Catalog
import Foundation
import Merge
import ObjectStore
import Postgres
import Provenance
import QuiverCore
import QuiverTesting
import Registry
import Testing

/// The owner/application role split (issue 12, item 6): migrations run as the owner; the application's role runs
/// every use case but may only read and append the audit trail, never rewrite it.
@Suite("Catalog: the application's role")
struct AppRoleTests {
    @Test func theAppRoleRunsTheRegistryButCannotRewriteTheAuditTrail() throws {
        let server = try TestS3.require()
        let ownerURL = try TestPostgres.createScratchDatabase()
        let role = "quiver_app_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(10)
        try TestPostgres.psql(ownerURL, "CREATE ROLE \(role) LOGIN")
        let blobURL = "s3://\(server.bucket)/role-\(UUID().uuidString.lowercased())"
        var settings = try S3Settings.fromEnvironment(url: blobURL, environment: server.awsEnvironment)
        settings.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2, maxTotal: 5)
        let store = S3BlobStore(settings: settings)
        defer {
            for blob in (try? store.list()) ?? [] { try? store.delete(digest: blob.digest) }
            try? TestPostgres.dropDatabase(url: ownerURL)
            if let admin = TestPostgres.url { _ = try? TestPostgres.psql(admin, "DROP ROLE IF EXISTS \(role)") }
        }

        // The owner migrates and grants.
        let owner = try Catalog.open(url: ownerURL, maxConnections: 1)
        try owner.grantAppRole(role)
        owner.pool.close()

        // The application opens the catalog as its role (the migrator finds nothing to do and creates nothing) and
        // runs the use cases that write: register, merge, alias, evaluation, token, gc, fsck.
        var components = try #require(URLComponents(string: ownerURL))
        components.user = role
        let appURL = try #require(components.string)
        let catalog = try Catalog.open(url: appURL, maxConnections: 4)
        defer { catalog.pool.close() }
        // Its key in a scratch home: the default home is the machine's (/var/lib/quiver), not a test's to write.
        let home = try Fixtures.temporaryDirectory("app-role-home")
        defer { try? FileManager.default.removeItem(at: home) }
        let registry = Registry(catalog: catalog, blobs: store, actor: "app", signingKey: SigningKeyLocation.resolve(environment: [:], home: home))
        let tone = try registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
        _ = try registry.register(directory: RegistryFixture.golden("a2"), name: "json")
        let blend = try registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend",
                                       request: MergeRequest(method: .ties, density: 0.5)).version
        _ = try registry.setAlias(name: "blend", alias: "production", version: blend.version, force: true)
        try registry.recordEvaluation(tone, Evaluation(suite: "s", metric: "acc", value: 0.5, higherIsBetter: true))
        _ = try registry.createToken(name: "ci", scope: .write)
        _ = try registry.collectGarbage(graceSeconds: 0)
        #expect(try registry.fsck().passed)

        // What the role must not do to the audit trail, or to the schema.
        let forbidden = [
            "UPDATE audit_events SET actor = 'mallory'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
            "DROP TABLE audit_events",
            "UPDATE lineage_parts SET node = node",
            "DELETE FROM lineage_parts",
            "TRUNCATE lineage_parts",
            "INSERT INTO schema_migrations (version, name, sha256, duration_ms) VALUES (999, 'x', 'x', 0)",
            "DELETE FROM schema_migrations",
            "CREATE TABLE sneaky (a int)",
        ]
        let connection = try PostgresConnection(url: appURL)
        for statement in forbidden {
            let error = #expect(throws: PostgresError.self, "\(statement)") {
                try connection.executeScript(SQLQuery(unsafeSQL: statement))
            }
            #expect(error?.sqlState == "42501", "\(statement): \(String(describing: error))")
        }
        let events = try connection.query("SELECT count(*)::int FROM audit_events").single().decode(Int.self, at: 0)
        #expect(events >= 5, "the use cases above were audited")
        #expect(try registry.fsck().passed, "the chain is intact")
    }

    @Test func onlyAPlainExistingRoleIsGranted() throws {
        let ownerURL = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: ownerURL) }
        let owner = try Catalog.open(url: ownerURL, maxConnections: 1)
        defer { owner.pool.close() }
        for role in ["", "Quiver", "app; DROP TABLE versions", "1app", String(repeating: "a", count: 64), "quiver\u{0}"] {
            let error = #expect(throws: CatalogError.self) { try owner.grantAppRole(role) }
            #expect(error?.code == "catalog.invalid_app_role")
        }
        let missing = #expect(throws: CatalogError.self) { try owner.grantAppRole("quiver_no_such_role") }
        #expect(missing?.reason.contains("does not exist") == true)
        // The test server's owner is a superuser: granting to it would leave the trigger at its mercy.
        let superuser = try #require(URLComponents(string: ownerURL)?.user)
        let refused = #expect(throws: CatalogError.self) { try owner.grantAppRole(superuser) }
        #expect(refused?.reason.contains("superuser") == true)
    }
}
