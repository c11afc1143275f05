import Foundation
import Postgres
import QuiverCore
import QuiverTesting
import Testing

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// What `quiver serve` refuses, and that a refusal leaves nothing behind: denials in the audit trail, blobs and
/// versions that are never recorded, a saturated executor answering 503 at once.
@Suite("quiver serve refusals", .serialized)
struct ServerRefusalTests {
    typealias Files = ServerHTTPTests.Files


    @Test func everyDenialIsAuditedWithTheTokensName() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let api = ServerHTTPTests.API(server: server)
        let reader = try ServerHTTPTests.createToken(api, admin: admin, name: "reader", scope: "read")
        let scoped = try ServerHTTPTests.createToken(api, admin: admin, name: "scoped", scope: "write", names: "team/*")
        let expiring = try #require(try ServerHTTPTests.object(api.call(
            "POST", "/v1/tokens", body: .json(#"{"name": "brief", "scope": "read", "expires_in_seconds": 1}"#), token: admin, expect: 201))["secret"] as? String)

        // 401: no token, an unknown one, a malformed header; each with WWW-Authenticate.
        let none = try api.call("GET", "/v1/versions", token: nil, expect: 401)
        #expect(none.headers["www-authenticate"] == "Bearer")
        try api.call("GET", "/v1/versions", token: "qvr_not-a-real-token", expect: 401)
        try api.call("GET", "/v1/versions", headers: ["Authorization": "Basic cm9vdDpyb290"], token: nil, expect: 401)
        // 403: below the route's scope, and outside the name pattern.
        try api.call("POST", "/v1/gc", body: .json(#"{"grace_seconds": 60}"#), token: reader, expect: 403)
        let tone = Files(ServerHTTPTests.golden.appendingPathComponent("a1"))
        try ServerHTTPTests.upload(api, tone, token: scoped)
        let outside = try api.call("POST", "/v1/versions", body: .json(#"{"name": "elsewhere", "config_sha256": "\#(tone.configDigest)", "weights_sha256": "\#(tone.weightsDigest)"}"#), token: scoped, expect: 403)
        #expect(ServerHTTPTests.errorCode(outside) == "auth.name_pattern")
        // An expired token: 401.
        sleep(2)
        let expired = try api.call("GET", "/v1/versions", token: expiring, expect: 401)
        #expect((try ServerHTTPTests.object(expired)["error"] as? [String: String])?["message"]?.contains("expired") == true)

        let rows = try server.sql("SELECT actor || ' ' || (details->>'code') FROM audit_events WHERE action = 'auth.denied' ORDER BY id")
            .split(separator: "\n").map(String.init)
        #expect(rows == [
            "anonymous auth.unauthenticated", "anonymous auth.unauthenticated", "anonymous auth.unauthenticated",
            "reader auth.scope", "scoped auth.name_pattern", "anonymous auth.unauthenticated",
        ], "\(rows)")
        #expect(try server.sql("SELECT count(*) FROM adapter_versions") == "0", "the refused registration recorded nothing")
        let subjects = try server.sql("SELECT DISTINCT details->>'request' FROM audit_events WHERE action = 'auth.denied' ORDER BY 1")
        #expect(subjects.contains("GET /v1/versions") && subjects.contains("POST /v1/gc"), "\(subjects)")
        // The secrets never reach the audit trail or the log.
        let trail = try server.sql("SELECT string_agg(details::text, ' ') FROM audit_events")
        for secret in [admin, reader, scoped, expiring] { #expect(!trail.contains(secret)) }
        let log = server.stop().stderr
        for secret in [admin, reader, scoped, expiring] { #expect(!log.contains(secret)) }
    }

    /// A request whose declared body the server leaves unread ends its connection: otherwise the server waits to
    /// drain bytes that may never come (a client's lying Content-Length; Schemathesis found it as a 30 s hang of the
    /// request after such a one on a reused connection), and the next request on it is swallowed.
    @Test func anAnswerThatLeavesTheBodyUnreadClosesTheConnection() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let digest = String(repeating: "0", count: 64)
        let refused = try server.request("PUT", "/v1/blobs/\(digest)", headers: ["Content-Length": "100"], token: "qvr_not-a-token")
        #expect(refused.status == 401)
        #expect(refused.headers["connection"] == "close", "\(refused)")
        let negative = try server.request("PUT", "/v1/blobs/\(digest)", headers: ["Content-Length": "-1"], token: admin)
        // The HTTP parser refuses it; the answer is still the API's JSON error (Schemathesis checks the document).
        #expect(negative.status == 400 && negative.headers["content-type"] == "application/json" && negative.headers["connection"] == "close", "\(negative)")
        #expect(ServerHTTPTests.errorCode(negative) == "server.malformed_request", "\(negative)")
        let after = try server.request("GET", "/v1/policy", token: admin)
        #expect(after.status == 200, "the server goes on serving")
        let unused = try server.request("GET", "/v1/policy", headers: ["Content-Length": "5"], token: admin)
        #expect(unused.status == 200 && unused.headers["connection"] == "close", "a body on an operation that takes none: \(unused)")
        let plain = try server.request("GET", "/v1/policy", token: admin)
        #expect(plain.status == 200 && plain.headers["connection"] == nil, "an ordinary request keeps its connection: \(plain)")
        let stored = try server.request("PUT", "/v1/blobs/\(SHA256Digest.of(Array("abc".utf8)).hex)", body: .bytes(Data("abc".utf8)), token: admin)
        #expect(stored.status == 201 && stored.headers["connection"] == nil, "\(stored)")

        // A body shorter than its Content-Length: refused after the 20 s idle limit, nothing stored.
        let short = Data("abc".utf8)
        let started = Date()
        let stalled = try server.request("PUT", "/v1/blobs/\(SHA256Digest.of(Array("abcdef".utf8)).hex)", headers: ["Content-Length": "6"], body: .bytes(short), token: admin)
        #expect(stalled.status == 408 && stalled.headers["connection"] == "close", "\(stalled)")
        #expect(-started.timeIntervalSinceNow < 40)
        let head = try server.request("HEAD", "/v1/blobs/\(SHA256Digest.of(Array("abcdef".utf8)).hex)", token: admin)
        #expect(head.status == 404, "nothing was stored")
    }

    @Test func refusedBlobsLeaveNothingInTheBucketOrTheCatalog() throws {
        let server = try TestServer(arguments: ["--max-blob-size", "16KiB"])
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let api = ServerHTTPTests.API(server: server)
        let big = Data((0..<(20 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let bigDigest = SHA256Digest.of(big).hex
        try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": bigDigest], body: .bytes(big), token: admin, expect: 413)
        // The right size, the wrong bytes: refused after streaming, nothing kept under the digest.
        var wrong = big.prefix(8 << 10)
        let claimed = SHA256Digest.of(wrong).hex
        wrong[wrong.startIndex] ^= 0xFF
        let mismatch = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": claimed], body: .bytes(Data(wrong)), token: admin, expect: 400)
        #expect(ServerHTTPTests.errorCode(mismatch) == "objectstore.corrupt_blob")
        let listing = try server.cli(["blob", "ls"])
        #expect(listing.status == 0 && listing.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "bucket: \(listing.stdout) \(listing.stderr)")
        #expect(try server.sql("SELECT count(*) FROM blobs") == "0")
        #expect(try server.sql("SELECT count(*) FROM adapter_versions") == "0")
    }

    @Test func malformedAndNonFiniteVersionsAreRefusedAndNothingIsRecorded() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let api = ServerHTTPTests.API(server: server)
        let good = Files(ServerHTTPTests.golden.appendingPathComponent("a1"))
        let malformedWeights = Fixtures.root.appendingPathComponent("malformed/header_too_large__limit.safetensors")
        let nan = Files(Fixtures.root.appendingPathComponent("malformed/lora/non_finite_weight__nan"))
        for file in [good.config, malformedWeights, nan.config, nan.weights] {
            let exchange = try server.request("PUT", "/v1/blobs/\(Files.sha256(file))", body: .file(file), token: admin)
            #expect([200, 201].contains(exchange.status), "\(exchange)")
        }
        let malformed = try api.call("POST", "/v1/versions", body: .json(#"{"name": "broken", "config_sha256": "\#(good.configDigest)", "weights_sha256": "\#(Files.sha256(malformedWeights))"}"#), token: admin, expect: 400)
        #expect(ServerHTTPTests.errorCode(malformed)?.hasPrefix("safetensors.") == true, "\(malformed)")
        let nonFinite = try api.call("POST", "/v1/versions", body: .json(#"{"name": "nan", "config_sha256": "\#(nan.configDigest)", "weights_sha256": "\#(nan.weightsDigest)"}"#), token: admin, expect: 400)
        #expect(ServerHTTPTests.errorCode(nonFinite) == "lora.non_finite_weight", "\(nonFinite)")
        #expect(try server.sql("SELECT count(*) FROM adapter_versions") == "0")
        #expect(try server.sql("SELECT count(*) FROM adapters") == "0")
        #expect(try server.sql("SELECT count(*) FROM audit_events WHERE action = 'version.register'") == "0")
    }

    @Test func tokenCommandsPrintTheTokenAloneListAndRevoke() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        let created = try server.cli(["token", "create", "--name", "ci", "--scope", "write", "--names", "team/*", "--expires", "30d"])
        #expect(created.status == 0, "\(created.stderr)")
        let lines = created.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("qvr_"), "stdout is the token and a newline: \(created.stdout)")
        let token = String(lines[0])
        let listed = try server.cli(["token", "list"])
        #expect(listed.status == 0 && listed.stdout.contains("ci  write  names=team/*  expires"), "\(listed.stdout)")
        #expect(!listed.stdout.contains(token))
        let json = try server.cli(["token", "list", "--json"])
        #expect(json.stdout.contains("\"namePattern\" : \"team/*\""), "\(json.stdout)")
        #expect(try server.request("GET", "/v1/policy", token: token).status == 200)
        #expect(try server.cli(["token", "revoke", "ci"]).status == 0)
        #expect(try server.request("GET", "/v1/policy", token: token).status == 401)
        #expect(try server.cli(["token", "revoke", "ci"]).status == 3, "revoking again: not found")
        // Options are checked before anything opens: a bad name or scope is a usage error.
        #expect(try server.cli(["token", "create", "--name", "no spaces", "--scope", "read"]).status == 64)
        #expect(try server.cli(["token", "create", "--name", "x", "--scope", "root"]).status == 64)
        #expect(try server.cli(["token", "create", "--name", "x", "--scope", "read", "--expires", "soon"]).status == 64)
    }

    @Test func aSaturatedExecutorAnswers503WithRetryAfter() throws {
        let server = try TestServer(arguments: ["--threads", "1", "--max-waiting", "0", "--workers", "0", "--read-cache", "0"])
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        // An upload whose body stalls waits on its own thread (the transfers'): catalog requests still get theirs.
        let stalled = try RawConnection(port: server.port)
        try stalled.send("PUT /v1/blobs/\(String(repeating: "c", count: 64)) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(admin)\r\nContent-Length: 100000\r\n\r\n0123456789")
        defer { stalled.close() }
        usleep(300_000)
        let beside = try server.request("GET", "/v1/policy", token: admin)
        #expect(beside.status == 200, "a stalled upload must not hold the catalog's only thread: \(beside)")
        // A catalog read that waits on a lock holds the only catalog thread: the policy table is locked from outside.
        let locker = try PostgresConnection(url: server.databaseURL)
        try locker.executeScript("BEGIN; LOCK TABLE registry_policy IN ACCESS EXCLUSIVE MODE")
        let blocked = Thread { _ = try? server.request("GET", "/v1/policy", token: admin) }
        blocked.start()
        var busy: TestServer.Exchange?
        for _ in 0..<50 {
            usleep(100_000)
            let exchange = try server.request("GET", "/v1/policy", token: admin)
            if exchange.status == 503 { busy = exchange; break }
        }
        try locker.executeScript("ROLLBACK")
        let refused = try #require(busy, "no 503 while the only thread was held")
        #expect(refused.headers["retry-after"] == "1")
        #expect(ServerHTTPTests.errorCode(refused) == "server.overloaded")
        // Health needs no executor: it still answers.
        #expect(try server.request("GET", "/healthz").status == 200)
        var recovered = 0
        for _ in 0..<50 where recovered != 200 {
            usleep(100_000)
            recovered = try server.request("GET", "/v1/policy", token: admin).status
        }
        #expect(recovered == 200, "the catalog thread is free again once the lock is gone, while the stalled upload still holds a transfer thread")
        let metrics = try server.request("GET", "/metrics").text
        #expect(metrics.range(of: #"quiver_executor_rejected_total [1-9]"#, options: .regularExpression) != nil, "\(metrics)")
    }

    /// A merge run within its request moves blobs for as long as it takes: it runs on the transfers' threads, so
    /// with one catalog thread, catalog requests are still served while it waits (held here by a lock on the
    /// merges table, which its first catalog read needs).
    @Test func aSynchronousMergeLeavesTheCatalogThreadFree() throws {
        let server = try TestServer(arguments: ["--threads", "1", "--max-waiting", "0", "--workers", "0", "--read-cache", "0"])
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        for (name, golden) in [("tone", "a1"), ("json", "a2")] {
            let outcome = try server.cli(["register", ServerHTTPTests.golden.appendingPathComponent(golden).path, "--name", name])
            #expect(outcome.status == 0, "\(outcome)")
        }
        let locker = try PostgresConnection(url: server.databaseURL)
        try locker.executeScript("BEGIN; LOCK TABLE merges IN ACCESS EXCLUSIVE MODE")
        let merged = Mutex<TestServer.Exchange?>(nil)
        let merging = Thread {
            let exchange = try? server.request("POST", "/v1/merges", body: .json(#"{"inputs": ["tone", "json"], "into": "blend", "method": "ties", "density": 0.5}"#), token: admin)
            merged.withLock { $0 = exchange }
        }
        merging.start()
        usleep(500_000)
        #expect(merged.withLock { $0 } == nil, "the merge should be waiting on the lock")
        let beside = try server.request("GET", "/v1/policy", token: admin)
        #expect(beside.status == 200, "a merge in flight must not hold the catalog's only thread: \(beside)")
        try locker.executeScript("ROLLBACK")
        var status: Int?
        for _ in 0..<100 where status == nil {
            usleep(100_000)
            status = merged.withLock { $0?.status }
        }
        #expect(status == 201, "the merge completes once the lock is gone")
    }

    @Test func aLargeBlobStreamsBothWays() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        let admin = try ServerHTTPTests.adminToken(server)
        let directory = try Fixtures.temporaryDirectory("big-blob")
        defer { try? FileManager.default.removeItem(at: directory) }
        // 24 MiB: above the S3 store's multipart threshold, far above the 1 MiB transfer buffer.
        let file = directory.appendingPathComponent("big.bin")
        var generator = SystemRandomNumberGenerator()
        try Data((0..<(24 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }).write(to: file)
        let digest = try SHA256Digest.ofFile(at: file).hex
        let put = try server.request("PUT", "/v1/blobs/\(digest)", body: .file(file), token: admin)
        #expect(put.status == 201, "\(put)")
        let get = try server.request("GET", "/v1/blobs/\(digest)", token: admin)
        #expect(get.status == 200 && SHA256Digest.of(get.body).hex == digest)
        let range = try server.request("GET", "/v1/blobs/\(digest)", headers: ["Range": "bytes=\(20 << 20)-\((20 << 20) + 99)"], token: admin)
        let expected = try Data(contentsOf: file)[(20 << 20)..<((20 << 20) + 100)]
        #expect(range.status == 206 && range.body == expected)
    }
}

/// A plain TCP connection to the server, for requests curl cannot make (a body that stalls half-way).
final class RawConnection {
    private let socket: Int32

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw TestServiceError(message: "connect to 127.0.0.1:\(port) failed") }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw TestServiceError(message: "send failed") }
    }

    func close() {
        Glibc.close(socket)
    }
}
