import Foundation
import QuiverTesting
import Testing
@testable import Postgres

/// Statements whose replies are waited for with a spin (``ReplyWait``) give what they give without one: rows,
/// errors, a reply slower than the spin, a connection killed mid-statement; on prepared and unnamed statements.
/// The setting is the process's, so other suites running meanwhile wait with the spin too, and must pass as well.
@Suite("Reply wait", .serialized)
struct ReplyWaitTests {
    private func withSpin<T>(_ limit: Duration, _ body: () throws -> T) throws -> T {
        let before = ReplyWait.spinLimit
        ReplyWait.spin(upTo: limit)
        defer { ReplyWait.spin(upTo: before) }
        return try body()
    }

    /// The same statements, rows and errors with and without the spin, prepared (the default) and unnamed.
    @Test(arguments: [nil, 0] as [Int?])
    func sameRowsAndErrorsWithTheSpin(preparedStatementLimit: Int?) throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        func outcomes() throws -> [String] {
            let conn = try PostgresConnection(url: url, preparedStatementLimit: preparedStatementLimit)
            var seen: [String] = []
            try conn.query("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, body text)")
            try conn.query("TRUNCATE t")
            for id in 0..<50 { try conn.query("INSERT INTO t VALUES (\(id), \("row \(id) é"))") }
            let rows = try conn.query("SELECT id, body FROM t WHERE id >= \(10) ORDER BY id")
            seen.append(try rows.map { "\(try $0.decode(Int.self, at: 0)):\(try $0.decode(String.self, at: 1))" }.joined(separator: ","))
            for statement: SQLQuery in ["INSERT INTO t VALUES (1, 'again')", "SELECT nonsense FROM t", "SELEC 1", "SELECT 1/0"] {
                do {
                    try conn.query(statement)
                    seen.append("no error")
                } catch let error as PostgresError {
                    seen.append("\(error.kind) \(error.sqlState ?? "-") \(error.message)")
                }
            }
            seen.append(try conn.query("SELECT count(*) FROM t").single().decode(Int.self, at: 0).description)
            return seen
        }
        let blocked = try outcomes()
        let spun = try withSpin(.milliseconds(2)) { try outcomes() }
        #expect(spun == blocked)
        #expect(blocked.count == 6 && blocked[1].contains("23505") && blocked[4].contains("22012"))
    }

    /// A reply that takes longer than the spin arrives all the same (the thread sleeps for the rest).
    @Test func aReplySlowerThanTheSpinArrives() throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        let slept = try withSpin(.microseconds(200)) {
            try PostgresConnection(url: url).query("SELECT pg_sleep(0.05), 42").single().decode(Int.self, at: 1)
        }
        #expect(slept == 42)
    }

    /// A connection killed while a statement runs fails with connectionLost, at once, spinning or not.
    @Test(arguments: [Duration.zero, .seconds(10)])
    func aConnectionKilledMidStatementIsLost(spin: Duration) throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        let (error, seconds) = try withSpin(spin) { () throws -> (PostgresError?, TimeInterval) in
            let conn = try PostgresConnection(url: url)
            let pid = try conn.query("SELECT pg_backend_pid()").single().decode(Int.self, at: 0)
            let killer = Thread {
                Thread.sleep(forTimeInterval: 0.3)
                _ = try? PostgresConnection(url: url).query("SELECT pg_terminate_backend(\(pid)::int)")
            }
            killer.start()
            let started = Date()
            do {
                try conn.query("SELECT pg_sleep(30)")
                return (nil, Date().timeIntervalSince(started))
            } catch let error as PostgresError {
                return (error, Date().timeIntervalSince(started))
            }
        }
        #expect(error?.kind == .connectionLost)
        #expect(seconds < 10)
    }
}
