import Foundation
import Postgres
import QuiverTesting
import Testing
@testable import Catalog

@Suite("Migrator integration")
struct MigratorIntegrationTests {
    private func withScratch(_ body: (String) throws -> Void) throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        try body(url)
    }

    @Test func appliesOnceThenRerunIsNoOp() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let first = try Migrator().migrate(on: conn)
            #expect(first.map(\.version) == Migration.embedded.map(\.version))
            let second = try Migrator().migrate(on: conn)
            #expect(second.isEmpty)
            let rows = try conn.query("SELECT version, sha256 FROM schema_migrations ORDER BY version").decode((Int, String).self)
            #expect(rows.map(\.0) == Migration.embedded.map(\.version))
            #expect(rows.map(\.1) == Migration.embedded.map(\.checksum.hex))
        }
    }

    @Test func currentCatalogOpensWithoutTheLockButPendingWorkWaitsForIt() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let first = [Migration(version: 1, name: "first", sql: "CREATE TABLE t (a int);")]
            try Migrator(migrations: first).migrate(on: conn)
            // Another process holds the migration lock (it is migrating, or stuck).
            let holder = try PostgresConnection(url: url)
            try holder.query("SELECT pg_advisory_lock(\(Migrator.advisoryLockKey))")
            // A current catalog is checked without the lock: the open does not wait for the holder.
            #expect(try Migrator(migrations: first).migrate(on: conn).isEmpty)
            // A pending migration, an edited one and an unknown one are all decided under the lock: each waits.
            try conn.query("SET lock_timeout = '200ms'")
            let second = first + [Migration(version: 2, name: "second", sql: "CREATE TABLE u (a int);")]
            let edited = [Migration(version: 1, name: "first", sql: "CREATE TABLE t (a bigint);")]
            for migrations in [second, edited, []] {
                let error = try #require(throws: PostgresError.self) { try Migrator(migrations: migrations).migrate(on: conn) }
                #expect(error.sqlState == SQLState.lockNotAvailable)
            }
            try holder.query("SELECT pg_advisory_unlock(\(Migrator.advisoryLockKey))")
            #expect(try Migrator(migrations: second).migrate(on: conn).map(\.version) == [2])
        }
    }

    @Test func changedAppliedFileIsRefusedByName() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let original = [Migration(version: 1, name: "first", sql: "CREATE TABLE t (a int);")]
            try Migrator(migrations: original).migrate(on: conn)
            let edited = [Migration(version: 1, name: "first", sql: "CREATE TABLE t (a bigint);")]
            let error = try #require(throws: CatalogError.self) { try Migrator(migrations: edited).migrate(on: conn) }
            #expect(error.kind == .migrationChecksumMismatch)
            #expect(error.reason.contains("0001_first.sql"))
            #expect(error.reason.contains(original[0].checksum.hex))
            #expect(error.reason.contains(edited[0].checksum.hex))
            #expect(!error.hint.isEmpty)
        }
    }

    @Test func failingMigrationLeavesPreviousVersion() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let good = Migration(version: 1, name: "good", sql: "CREATE TABLE ok (a int);")
            let bad = Migration(version: 2, name: "bad", sql: "CREATE TABLE half (a int); SELECT no_such_function();")
            #expect(throws: PostgresError.self) { try Migrator(migrations: [good, bad]).migrate(on: conn) }
            let versions = try conn.query("SELECT version FROM schema_migrations").decode((Int).self)
            #expect(versions == [1])
            #expect(try conn.query("SELECT to_regclass('half') IS NULL").single().decode(Bool.self, at: 0))
        }
    }

    @Test func concurrentMigratorsApplyOnce() async throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        // Slow migration so the second migrator really arrives while the first holds the lock.
        let slow = [
            Migration(version: 1, name: "slow", sql: "SELECT pg_sleep(0.5); CREATE TABLE once (a int);"),
            Migration(version: 2, name: "after", sql: "INSERT INTO once VALUES (1);"),
        ]
        let pool = ConnectionPool(url: url, maxSize: 2)
        defer { pool.close() }
        async let a = pool.withConnection { try Migrator(migrations: slow).migrate(on: $0).map(\.version) }
        async let b = pool.withConnection { try Migrator(migrations: slow).migrate(on: $0).map(\.version) }
        let results = try await [a, b]
        #expect(results.sorted { $0.count < $1.count } == [[], [1, 2]])
        #expect(try await pool.query("SELECT count(*) FROM once").single().decode(Int.self, at: 0) == 1)
    }
}
