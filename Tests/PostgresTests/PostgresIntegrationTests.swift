import Foundation
import QuiverCore
import QuiverTesting
import Testing
@testable import Postgres

/// Against the real server of `scripts/services/postgres.sh`; each test works in a scratch database of its own.
@Suite("Postgres integration")
struct PostgresIntegrationTests {
    private func withScratch(_ body: (String) throws -> Void) throws {
        let url = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: url) }
        try body(url)
    }

    @Test func injectionTextIsStoredAndReadBackVerbatim() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
            try conn.query("CREATE TABLE x (id int)")
            let nasty = "O'Reilly \"quoted\" \\ '; DROP TABLE x; -- $1 \u{00e9}\u{1F600}"
            try conn.query("INSERT INTO notes (body) VALUES (\(nasty))")
            let back = try conn.query("SELECT body FROM notes WHERE body = \(nasty)").single().decode(String.self, column: "body")
            #expect(back == nasty)
            let tables = try conn.query("SELECT count(*) FROM pg_tables WHERE tablename = \("x")").single().decode(Int.self, at: 0)
            #expect(tables == 1, "table x must still exist")
        }
    }

    @Test func throwingTransactionLeavesNothing() throws {
        struct Boom: Error {}
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE t (v text)")
            #expect(throws: Boom.self) {
                try conn.transaction { tx in
                    try tx.query("INSERT INTO t VALUES (\("inside"))")
                    throw Boom()
                }
            }
            #expect(conn.transactionStatus == .idle)
            #expect(try conn.query("SELECT count(*) FROM t").single().decode(Int.self, at: 0) == 0)

            try conn.transaction { tx in try tx.query("INSERT INTO t VALUES (\("committed"))") }
            #expect(try conn.query("SELECT v FROM t").single().decode(String.self, at: 0) == "committed")
        }
    }

    @Test func swallowedServerErrorInTransactionIsNotReportedAsCommitted() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE t (v int PRIMARY KEY)")
            #expect(throws: PostgresError.self) {
                try conn.transaction { tx in
                    try tx.query("INSERT INTO t VALUES (\(1))")
                    _ = try? tx.query("INSERT INTO t VALUES (\(1))")
                }
            }
            #expect(try conn.query("SELECT count(*) FROM t").single().decode(Int.self, at: 0) == 0)
        }
    }

    @Test func uniqueViolationCarriesSQLStateAndConstraint() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE a (name text CONSTRAINT a_name_key UNIQUE)")
            try conn.query("INSERT INTO a VALUES (\("lora"))")
            let error = try #require(throws: PostgresError.self) { try conn.query("INSERT INTO a VALUES (\("lora"))") }
            #expect(error.sqlState == "23505")
            #expect(error.isUniqueViolation)
            #expect(error.code == "postgres.unique_violation")
            #expect(error.constraint == "a_name_key")
            #expect(error.detail?.contains("lora") == true)
        }
    }

    @Test func valuesRoundTrip() throws {
        struct Config: Codable, Equatable { var r: Int; var modules: [String] }
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("""
                CREATE TABLE v (b bytea, j jsonb, at timestamptz, tags text[], nums bigint[], u uuid,
                                f double precision, ok boolean, i4 int, missing text)
                """)
            let bytes: [UInt8] = (0...255).map { UInt8($0) } + [0, 0, 39, 92]
            let json = try PostgresJSON(encoding: Config(r: 16, modules: ["q_proj", "v'proj"]))
            let at = Date(timeIntervalSince1970: 1_700_000_000.654321)
            let tags = ["a", "b,c", "q\"x", "NULL", "", "back\\slash"]
            let nums = [1, -2, Int.max]
            let uuid = UUID()
            let none: String? = nil
            try conn.query("""
                INSERT INTO v VALUES (\(bytes), \(json), \(at), \(tags), \(nums), \(uuid), \(0.1), \(true), \(Int32(-7)), \(none))
                """)
            let row = try conn.query("SELECT * FROM v").single()
            #expect(try row.decode([UInt8].self, column: "b") == bytes)
            #expect(try row.decode(Data.self, column: "b") == Data(bytes))
            #expect(try row.decode(PostgresJSON.self, column: "j").decode(Config.self) == Config(r: 16, modules: ["q_proj", "v'proj"]))
            let back = try row.decode(Date.self, column: "at")
            #expect(abs(back.timeIntervalSince1970 - at.timeIntervalSince1970) < 1e-6)
            #expect(try row.decode([String].self, column: "tags") == tags)
            #expect(try row.decode([Int].self, column: "nums") == nums)
            #expect(try row.decode(UUID.self, column: "u") == uuid)
            #expect(try row.decode(Double.self, column: "f") == 0.1)
            #expect(try row.decode(Bool.self, column: "ok"))
            #expect(try row.decode(Int32.self, column: "i4") == -7)
            #expect(try row.decode(String?.self, column: "missing") == nil)
            #expect(throws: PostgresError.self) { try row.decode(String.self, column: "missing") }

            // The first columns are bytea, jsonb, timestamptz: reading them as numbers must fail, not guess.
            #expect(throws: PostgresError.self) { try row.decode((Int, Bool, String?).self) }
        }
    }

    @Test func tupleDecodingAndAnyArrayParameter() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            try conn.query("CREATE TABLE m (name text, rank int, at timestamptz)")
            try conn.query("INSERT INTO m VALUES ('a', 4, now()), ('b', 8, NULL), ('c', 16, now())")
            let rows = try conn.query("SELECT name, rank, at FROM m WHERE name = ANY(\(["a", "b"])) ORDER BY name")
                .decode((String, Int, Date?).self)
            #expect(rows.map(\.0) == ["a", "b"])
            #expect(rows.map(\.1) == [4, 8])
            #expect(rows[0].2 != nil && rows[1].2 == nil)
            let ranks = try conn.query("SELECT name FROM m WHERE rank = ANY(\([8, 16])) ORDER BY name").decode((String).self)
            #expect(ranks == ["b", "c"])
        }
    }

    @Test func serializableTransactionAndDigestRoundTrip() throws {
        try withScratch { url in
            let conn = try PostgresConnection(url: url)
            let digest = SHA256Digest.of(Data("quiver".utf8))
            let level = try conn.transaction(isolation: .serializable) { tx in
                try tx.query("SHOW transaction_isolation").single().decode(String.self, at: 0)
            }
            #expect(level == "serializable")
            let back = try conn.query("SELECT \(digest)::text").single().decode(SHA256Digest.self, at: 0)
            #expect(back == digest)
        }
    }

    @Test func refusedConnectionIsConnectionFailed() throws {
        _ = try TestPostgres.requireURL()
        // Port 1 on loopback has no listener; libpq reports the refusal at once.
        let error = try #require(throws: PostgresError.self) {
            try PostgresConnection(url: "postgresql://quiver@127.0.0.1:1/postgres", connectTimeout: 2)
        }
        #expect(error.kind == .connectionFailed)
    }

    @Test func unknownRoleIsAuthenticationFailed() throws {
        let url = try TestPostgres.requireURL()
        let bad = url.replacingOccurrences(of: "quiver@", with: "nobody_here@")
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(url: bad) }
        #expect(error.kind == .authenticationFailed)
    }

    @Test func scriptRefusesBinds() throws {
        let url = try TestPostgres.requireURL()
        let conn = try PostgresConnection(url: url)
        #expect(throws: PostgresError.self) { try conn.executeScript("SELECT \(1)") }
    }
}
