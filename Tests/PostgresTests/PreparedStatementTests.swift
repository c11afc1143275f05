import Foundation
import QuiverTesting
import Testing
@testable import Postgres

/// `PostgresConnection.query` prepares each statement once per connection; against the real server.
@Suite("Prepared statements")
struct PreparedStatementTests {
    private func withScratch(_ body: (String) throws -> Void) throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        try body(url)
    }

    private func serverSide(_ conn: PostgresConnection) throws -> Int {
        try conn.query("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE \("quiver\\_%")").single().decode(Int.self, at: 0)
    }

    @Test func aStatementIsPreparedOnceAndRunWithEachCallsValues() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE t (k int PRIMARY KEY, v text)")
            for k in 0..<20 { try conn.query("INSERT INTO t VALUES (\(k), \("value \(k)"))") }
            for k in [3, 17, 0] {
                #expect(try conn.query("SELECT v FROM t WHERE k = \(k)").single().decode(String.self, at: 0) == "value \(k)")
            }
            // CREATE, the INSERT, the SELECT, and the pg_prepared_statements query itself.
            #expect(conn.preparedStatementCount == 3)
            #expect(try serverSide(conn) == 4)
            #expect(conn.preparedStatementCount == 4)
            let rows = try conn.query("SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE \("SELECT v FROM t%")")
            #expect(try rows.single().decode(Int.self, at: 0) == 3, "one prepared statement ran all three lookups")
        }
    }

    @Test func aSchemaChangeThatAltersTheResultIsPreparedAgain() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let other = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE t (a int)")
            try conn.query("INSERT INTO t VALUES (\(1))")
            #expect(try conn.query("SELECT * FROM t").columns == ["a"])
            try other.query("ALTER TABLE t ADD COLUMN b text DEFAULT 'x'")
            let rows = try conn.query("SELECT * FROM t")
            #expect(rows.columns == ["a", "b"])
            #expect(try rows.single().decode(String.self, column: "b") == "x")

            // Inside a transaction the failed statement aborts it (as the server requires), and the next try works.
            try other.query("ALTER TABLE t ADD COLUMN c int DEFAULT 7")
            #expect(throws: PostgresError.self) {
                try conn.transaction { tx in _ = try tx.query("SELECT * FROM t") }
            }
            #expect(try conn.transaction { tx in try tx.query("SELECT * FROM t").columns } == ["a", "b", "c"])
        }
    }

    @Test func theLeastRecentlyUsedStatementIsDeallocatedPastTheLimit() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url, preparedStatementLimit: 8)
            for n in 0..<30 {
                #expect(try conn.query(SQLQuery(unsafeSQL: "SELECT \(n) + $1::int", binds: [PostgresBind(typeOID: 0, text: "1")])).single().decode(Int.self, at: 0) == n + 1)
            }
            #expect(conn.preparedStatementCount == 8)
            #expect(try serverSide(conn) <= 8, "evicted statements are deallocated on the server")
        }
    }

    @Test func aLimitOfZeroPreparesNothing() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url, preparedStatementLimit: 0)
            for n in 0..<3 { #expect(try conn.query("SELECT \(n)::int + 1").single().decode(Int.self, at: 0) == n + 1) }
            #expect(conn.preparedStatementCount == 0)
            #expect(try conn.query("SELECT count(*) FROM pg_prepared_statements").single().decode(Int.self, at: 0) == 0)
        }
    }

    @Test func aBadStatementIsNotKeptAndTheConnectionStaysUsable() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            #expect(throws: PostgresError.self) { try conn.query("SELEC 1") }
            #expect(conn.preparedStatementCount == 0)
            #expect(try conn.query("SELECT 2").single().decode(Int.self, at: 0) == 2)
        }
    }
}
