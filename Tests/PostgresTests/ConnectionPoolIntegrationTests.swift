import Foundation
import QuiverTesting
import Testing
@testable import Postgres

@Suite("ConnectionPool integration")
struct ConnectionPoolIntegrationTests {
    struct OnCallerThread: Error {}


    @Test func asyncCallsShareBoundedConnections() async throws {
        let url = try TestPostgres.requireURL()
        let pool = ConnectionPool(url: url, maxSize: 2)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for i in 0..<12 {
                group.addTask {
                    try await pool.withConnection { conn in
                        // libpq blocks: it must run on the pool's own executor, never on the cooperative pool.
                        guard pool.executor.ownsCurrentThread else { throw OnCallerThread() }
                        _ = try conn.query("SELECT pg_sleep(0.01), \(i)")
                        return conn.backendPID
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count <= 2)
        #expect(pool.openConnections <= 2)
        #expect(!pool.executor.ownsCurrentThread)
        #expect(try await pool.query("SELECT 1").count == 1)
        #expect(try await pool.transaction { _ in pool.executor.ownsCurrentThread })
        pool.close()
    }

    @Test func connectionReturnedMidTransactionIsRolledBack() async throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        let pool = ConnectionPool(url: url, maxSize: 1)
        try await pool.query("CREATE TABLE t (v int)")
        try await pool.withConnection { conn in
            try conn.executeScript("BEGIN")
            try conn.query("INSERT INTO t VALUES (\(1))")
        }
        let count = try await pool.query("SELECT count(*) FROM t").single().decode(Int.self, at: 0)
        #expect(count == 0)
        pool.close()
    }

    @Test func waitingTimesOutWithNamedError() throws {
        let url = try TestPostgres.requireURL()
        let pool = ConnectionPool(url: url, maxSize: 1, waitTimeout: .milliseconds(200))
        let error = try #require(throws: PostgresError.self) {
            try pool.withConnection { _ in
                // The only connection is lent out, so a nested checkout must time out, not deadlock.
                try pool.withConnection { _ in }
            }
        }
        #expect(error.kind == .poolTimeout)
        pool.close()
    }

    @Test func poolRecoversAfterServerRestart() async throws {
        let server = try DedicatedPostgres()
        defer { try? server.stop() }
        let pool = ConnectionPool(url: server.url, maxSize: 2)
        let before = try await pool.withConnection { try $0.query("SELECT 1").single().decode(Int.self, at: 0) }
        #expect(before == 1)

        try server.restart()

        // Each idle connection is now dead: a call may meet one and must fail with connectionLost (no hang),
        // after which the pool replaces it. Within maxSize + 1 attempts a call must succeed.
        var lost = 0
        var after: Int?
        for _ in 0...pool.maxSize {
            do {
                after = try await pool.withConnection { try $0.query("SELECT 2").single().decode(Int.self, at: 0) }
                break
            } catch let error as PostgresError {
                #expect(error.kind == .connectionLost, "unexpected error after restart: \(error)")
                lost += 1
            }
        }
        #expect(after == 2)
        // Exactly one connection existed (one earlier call), so exactly one call meets the dead connection.
        #expect(lost == 1)
        pool.close()
    }
}
