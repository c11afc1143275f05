import Foundation
import QuiverCore
import QuiverTesting
import Testing

/// `quiver serve` answers reads from memory between catalog changes. These tests prove the answers stay right:
/// a change made through the server is seen by the next read, a change made around it (the CLI on the database)
/// within the feed's latency, a cached answer is given only to tokens that may read it, a revoked token stops
/// working, and a lost feed turns caching off instead of serving stale answers.
@Suite("quiver serve read cache", .serialized)
struct ReadCacheTests {
    static let golden = Fixtures.peftGolden.appendingPathComponent("adapters", isDirectory: true)

    /// A server with two versions of `tone` registered (through the CLI on its database) and an admin token.
    static func start() throws -> (TestServer, admin: String) {
        let server = try TestServer()
        for fixture in ["a1", "a2"] {
            let run = try server.cli(["register", golden.appendingPathComponent(fixture).path, "--name", "tone"])
            try #require(run.status == 0, "\(run.stderr)")
        }
        let run = try server.cli(["token", "create", "--name", "root", "--scope", "admin"])
        try #require(run.status == 0, "\(run.stderr)")
        return (server, run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func production(_ server: TestServer, token: String) throws -> Int? {
        let exchange = try server.request("GET", "/v1/adapters/tone/aliases", token: token)
        try #require(exchange.status == 200, "\(exchange)")
        let object = try #require(try exchange.json() as? [String: Any])
        return (object["aliases"] as? [String: Any])?["production"] as? Int
    }

    /// Polls `condition` for up to `seconds` (the feed delivers in milliseconds; the bound only keeps a broken
    /// feed from hanging the test).
    static func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        } while Date() < deadline
        return false
    }

    static func cacheCounter(_ server: TestServer, _ name: String) throws -> Double {
        let metrics = try server.request("GET", "/metrics").text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func aWriteThroughTheServerIsSeenByTheNextRead() throws {
        let (server, admin) = try Self.start()
        defer { server.tearDown() }
        #expect(try Self.production(server, token: admin) == nil)
        #expect(try Self.production(server, token: admin) == nil)  // now from the cache
        for version in [1, 2, 1] {
            let set = try server.request("PUT", "/v1/adapters/tone/aliases/production", body: .json(#"{"version": \#(version)}"#), token: admin)
            try #require(set.status == 200, "\(set)")
            #expect(try Self.production(server, token: admin) == version, "the read right after the move sees it")
        }
        #expect(try Self.cacheCounter(server, "quiver_cache_hits_total") >= 1, "repeated reads were answered from the cache")
    }

    @Test func aChangeMadeAroundTheServerReachesItsReaders() throws {
        let (server, admin) = try Self.start()
        defer { server.tearDown() }
        let show = try server.request("GET", "/v1/versions/tone", token: admin)
        try #require(show.status == 200)
        #expect(try server.request("GET", "/v1/versions/tone", token: admin).body == show.body)
        // The CLI writes the catalog directly, not through the server.
        try #require(try server.cli(["alias", "set", "tone", "production", "2"]).status == 0)
        #expect(try Self.eventually { try Self.production(server, token: admin) == 2 }, "the feed carried the move")
        try #require(try server.cli(["register", Self.golden.appendingPathComponent("a3").path, "--name", "tone"]).status == 0)
        #expect(try Self.eventually {
            let latest = try server.request("GET", "/v1/versions/tone", token: admin)
            return ((try? latest.json() as? [String: Any])?["version"] as? [String: Any])?["version"] as? Int == 3
        }, "a new version registered elsewhere is the new latest")
    }

    @Test func aCachedAnswerIsGivenOnlyToTokensThatMayReadIt() throws {
        let (server, admin) = try Self.start()
        defer { server.tearDown() }
        func token(_ name: String, pattern: String) throws -> String {
            let made = try server.request("POST", "/v1/tokens", body: .json(#"{"name": "\#(name)", "scope": "read", "names": "\#(pattern)"}"#), token: admin)
            try #require(made.status == 201, "\(made)")
            return try #require((try made.json() as? [String: Any])?["secret"] as? String)
        }
        let allowed = try token("tone-reader", pattern: "tone*"), other = try token("other-reader", pattern: "other*")
        for path in ["/v1/versions/tone@1", "/v1/versions/tone@1/lineage", "/v1/adapters/tone/aliases", "/v1/versions/tone@1/evaluations"] {
            #expect(try server.request("GET", path, token: allowed).status == 200, "\(path)")
            #expect(try server.request("GET", path, token: allowed).status == 200, "\(path), cached")
            let refused = try server.request("GET", path, token: other)
            #expect(refused.status == 403, "\(path): a cached answer is not given to a token outside its names: \(refused)")
        }
        let denials = try server.sql("SELECT count(*) FROM audit_events WHERE action = 'auth.denied' AND actor = 'other-reader'")
        #expect(Int(denials) == 4, "each refusal from the cache is audited")
    }

    @Test func aTokenRevokedAnywhereStopsWorking() throws {
        let (server, admin) = try Self.start()
        defer { server.tearDown() }
        let made = try server.cli(["token", "create", "--name", "ci", "--scope", "read"])
        try #require(made.status == 0)
        let secret = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try server.request("GET", "/v1/versions/tone@1", token: secret).status == 200)
        #expect(try server.request("GET", "/v1/versions/tone@1", token: secret).status == 200)
        try #require(try server.cli(["token", "revoke", "ci"]).status == 0)  // on the database, not through the server
        #expect(try Self.eventually { try server.request("GET", "/v1/versions/tone@1", token: secret).status == 401 })
        #expect(try server.request("GET", "/v1/versions/tone@1", token: admin).status == 200)
    }

    @Test func aLostFeedTurnsCachingOffUntilItListensAgain() throws {
        let (server, admin) = try Self.start()
        defer { server.tearDown() }
        #expect(try Self.production(server, token: admin) == nil)
        // Cut the feed's connection, and at once move the alias around the server: the move must be seen whether
        // the feed has reconnected (and flushed) yet or not.
        let killed = try server.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'quiver-serve-feed' AND datname = current_database()")
        #expect(Int(killed) == 1, "the server listens on a connection of its own")
        try #require(try server.cli(["alias", "set", "tone", "production", "1"]).status == 0)
        #expect(try Self.eventually { try Self.production(server, token: admin) == 1 })
        #expect(try Self.eventually {
            Int(try server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quiver-serve-feed' AND datname = current_database()")) == 1
        }, "the feed reconnects")
        try #require(try server.cli(["alias", "set", "tone", "production", "2"]).status == 0)
        #expect(try Self.eventually { try Self.production(server, token: admin) == 2 })
    }

    @Test func zeroTurnsTheCacheOff() throws {
        let server = try TestServer(arguments: ["--read-cache", "0"])
        defer { server.tearDown() }
        try #require(try server.cli(["register", Self.golden.appendingPathComponent("a1").path, "--name", "tone"]).status == 0)
        let token = try server.cli(["token", "create", "--name", "root", "--scope", "admin"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for _ in 0..<3 { #expect(try server.request("GET", "/v1/versions/tone@1", token: token).status == 200) }
        #expect(try Self.cacheCounter(server, "quiver_cache_hits_total") == 0)
        #expect(Int(try server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quiver-serve-feed' AND datname = current_database()")) == 0)
    }
}
