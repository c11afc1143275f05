import Foundation
import QuiverCore
import QuiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Webhooks end to end: `quiver serve` delivers from the catalog's outbox to a real HTTP receiver on loopback
/// (a python3 http.server process that records every request and answers with the statuses it is told).
@Suite("webhook deliveries", .serialized)
struct HookDeliveryTests {
    static let golden = Fixtures.peftGolden.appendingPathComponent("adapters", isDirectory: true)

    /// A receiver on a free loopback port: answers the i-th POST with `statuses[i]` (the last one repeats) and
    /// appends `{"headers", "body", "at"}` for each to a file.
    final class Receiver: @unchecked Sendable {
        // @unchecked Sendable: every property is a `let` set in init; the process is only signalled.
        static let script = #"""
        import base64, json, sys, time
        from http.server import BaseHTTPRequestHandler, HTTPServer
        port, out, statuses = int(sys.argv[1]), sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
        count = [0]
        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with open(out, "a") as f:
                    f.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": base64.b64encode(body).decode(), "at": time.time()}) + "\n")
                status = statuses[min(count[0], len(statuses) - 1)]
                count[0] += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            def log_message(self, *args):
                pass
        HTTPServer(("127.0.0.1", port), H).serve_forever()
        """#

        let port: Int
        let log: URL
        let process: ChildProcess.Running

        init(statuses: [Int]) throws {
            let directory = try Fixtures.temporaryDirectory("receiver")
            let script = directory.appendingPathComponent("receiver.py")
            try Data(Self.script.utf8).write(to: script)
            log = directory.appendingPathComponent("requests.jsonl")
            port = try TestServer.freeLoopbackPort()
            process = try ChildProcess.start("python3", [script.path, String(port), log.path, statuses.map(String.init).joined(separator: ",")])
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if (try? ChildProcess.run("curl", ["-s", "-o", "/dev/null", "--max-time", "1", "http://127.0.0.1:\(port)/"]))?.status == 0 { return }
                usleep(100_000)
            }
            throw TestServiceError(message: "the python3 webhook receiver did not start")
        }

        var url: String { "http://127.0.0.1:\(port)/hook" }

        struct Request {
            let headers: [String: String]
            let body: Data
            let at: Double
        }

        /// Every request received so far.
        func requests() -> [Request] {
            guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let headers = object["headers"] as? [String: String], let body = (object["body"] as? String).flatMap({ Data(base64Encoded: $0) }),
                      let at = object["at"] as? Double else { return nil }
                return Request(headers: headers, body: body, at: at)
            }
        }

        func stop() {
            // SIGKILL: a child started from a test thread may inherit a mask that blocks SIGTERM.
            process.send(SIGKILL)
            _ = process.wait()
        }
    }

    static func adminToken(_ server: TestServer) throws -> String {
        let run = try server.cli(["token", "create", "--name", "hooks-admin", "--scope", "admin"])
        try #require(run.status == 0, "\(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `quiver …` against the server over HTTP (remote mode, the admin token).
    static func remote(_ server: TestServer, token: String, _ arguments: [String]) throws -> ChildProcess.Outcome {
        try ChildProcess.run(Fixtures.quiverExecutable.path, arguments, environment: ["QUIVER_SERVER": server.baseURL, "QUIVER_TOKEN": token])
    }

    /// Polls `hook deliveries --json` until `done` holds for the deliveries, or `seconds` pass.
    static func deliveries(_ server: TestServer, token: String, hook: Int, seconds: Double,
                           until done: ([[String: Any]]) -> Bool) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [[String: Any]] = []
        repeat {
            let run = try remote(server, token: token, ["hook", "deliveries", String(hook), "--json"])
            try #require(run.status == 0, "\(run.stderr)")
            last = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
            if done(last) { return last }
            usleep(200_000)
        } while Date() < deadline
        return last
    }

    static func addHook(_ server: TestServer, token: String, url: String, events: String) throws -> (id: Int, secret: String) {
        let run = try remote(server, token: token, ["hook", "add", "--url", url, "--events", events, "--json"])
        try #require(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let secret = try #require(object["secret"] as? String)
        let id = try #require((object["hook"] as? [String: Any])?["id"] as? Int)
        return (id, secret)
    }

    @Test func anAliasMovedByTheLocalCLIReachesTheReceiverSigned() throws {
        let server = try TestServer(arguments: ["--hook-backoff", "1s"])
        defer { server.tearDown() }
        let receiver = try Receiver(statuses: [200])
        defer { receiver.stop() }
        let token = try Self.adminToken(server)
        let hook = try Self.addHook(server, token: token, url: receiver.url, events: "alias.moved,version.created")
        #expect(hook.secret.hasPrefix("qwh_") && hook.secret.count >= 40)
        let listed = try Self.remote(server, token: token, ["hook", "list"])
        #expect(listed.status == 0 && listed.stdout.contains(receiver.url) && !listed.stdout.contains(hook.secret), "\(listed.stdout)")

        // Local mode (the server's database, no HTTP): the outbox rows are written by the CLI's own transactions.
        for directory in ["a1", "a2"] {
            let run = try server.cli(["register", Self.golden.appendingPathComponent(directory).path, "--name", "team/assistant"])
            try #require(run.status == 0, "\(run.stderr)")
        }
        let moved = try server.cli(["alias", "set", "team/assistant", "staging", "1"])
        try #require(moved.status == 0, "\(moved.stderr)")
        let moved2 = try server.cli(["alias", "set", "team/assistant", "staging", "2"])
        try #require(moved2.status == 0, "\(moved2.stderr)")

        let log = try Self.deliveries(server, token: token, hook: hook.id, seconds: 30) { list in
            list.count == 4 && list.allSatisfy { $0["status"] as? String == "delivered" }
        }
        #expect(log.count == 4 && log.allSatisfy { $0["status"] as? String == "delivered" }, "\(log)")
        let received = receiver.requests()
        #expect(received.count == 4)
        var events: [String] = []
        for request in received {
            let timestamp = try #require(request.headers["x-quiver-timestamp"].flatMap { Int64($0) })
            let signature = try #require(request.headers["x-quiver-signature"])
            #expect(WebhookSignature.isValid(signature, secret: hook.secret, timestamp: timestamp, body: request.body), "signature of \(request.headers)")
            #expect(!WebhookSignature.isValid(signature, secret: hook.secret, timestamp: timestamp + 1, body: request.body), "the timestamp is signed")
            #expect(abs(Double(timestamp) - request.at) < 60)
            #expect(request.headers["content-type"] == "application/json")
            let payload = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
            #expect(request.headers["x-quiver-event"] == payload["event"] as? String)
            #expect(request.headers["x-quiver-delivery"] == payload["delivery"] as? String)
            events.append("\(payload["event"] ?? "")/\(payload["ref"] ?? "")")
            if payload["event"] as? String == "alias.moved", payload["version"] as? Int == 2 {
                #expect(payload["previous_version"] as? Int == 1)
                #expect(payload["alias"] as? String == "staging")
                #expect((payload["canonical_digest"] as? String)?.count == 64)
                #expect(payload["actor"] as? String == "test-server")
            }
        }
        #expect(events.sorted() == ["alias.moved/team/assistant@staging", "alias.moved/team/assistant@staging",
                                    "version.created/team/assistant@1", "version.created/team/assistant@2"], "\(events)")

        // A removed hook hears nothing more.
        #expect(try Self.remote(server, token: token, ["hook", "rm", String(hook.id)]).status == 0)
        #expect(try server.cli(["alias", "set", "team/assistant", "staging", "1"]).status == 0)
        sleep(2)
        #expect(receiver.requests().count == 4)
        #expect(try Self.remote(server, token: token, ["hook", "rm", String(hook.id)]).status == 3, "not found the second time")

        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(2000))")
        #expect(!stopped.stderr.contains(hook.secret), "the secret is never logged")
        #expect(stopped.stderr.contains("hook delivered"))
    }

    @Test func aFailingReceiverIsRetriedWithBackoffAndTheAttemptsAreLogged() throws {
        let server = try TestServer(arguments: ["--hook-backoff", "1s"])
        defer { server.tearDown() }
        let receiver = try Receiver(statuses: [500, 503, 200])
        defer { receiver.stop() }
        let token = try Self.adminToken(server)
        let hook = try Self.addHook(server, token: token, url: receiver.url, events: "version.created")
        #expect(try server.cli(["register", Self.golden.appendingPathComponent("a1").path, "--name", "tone"]).status == 0)

        let log = try Self.deliveries(server, token: token, hook: hook.id, seconds: 30) { $0.first?["status"] as? String == "delivered" }
        let delivery = try #require(log.first)
        #expect(delivery["status"] as? String == "delivered", "\(delivery)")
        #expect(delivery["attempts"] as? Int == 3)
        let attempts = try #require(delivery["log"] as? [[String: Any]])
        #expect(attempts.map { $0["httpStatus"] as? Int } == [500, 503, 200], "\(attempts)")
        #expect((attempts[0]["error"] as? String)?.hasPrefix("HTTP 500") == true)
        #expect(attempts[2]["error"] == nil || attempts[2]["error"] is NSNull)
        // Backoff: 1 s after the first failure, 2 s after the second (the loop polls each second: up to 1 s more).
        let times = receiver.requests().map(\.at)
        try #require(times.count == 3)
        #expect(times[1] - times[0] >= 0.9 && times[1] - times[0] < 3.5, "\(times)")
        #expect(times[2] - times[1] >= 1.9 && times[2] - times[1] < 4.5, "\(times)")
        // Every attempt carries the same delivery id, signed afresh.
        #expect(Set(receiver.requests().compactMap { $0.headers["x-quiver-delivery"] }).count == 1)
        let metrics = try server.request("GET", "/metrics")
        #expect(metrics.text.contains(#"quiver_hook_attempts_total{event="version.created",outcome="retry"} 2"#), "\(metrics.text.suffix(3000))")
        #expect(metrics.text.contains(#"quiver_hook_attempts_total{event="version.created",outcome="delivered"} 1"#))
        let text = try Self.remote(server, token: token, ["hook", "deliveries"])
        #expect(text.stdout.contains("delivered  attempts=3") && text.stdout.contains("HTTP 500"), "\(text.stdout)")
    }

    @Test func anUnreachableReceiverFailsAfterTheCapWithoutBlockingTheServer() throws {
        let server = try TestServer(arguments: ["--hook-backoff", "1s", "--hook-attempts", "3", "--hook-timeout", "2s"])
        defer { server.tearDown() }
        let token = try Self.adminToken(server)
        let closed = try TestServer.freeLoopbackPort()  // nothing listens there
        let hook = try Self.addHook(server, token: token, url: "http://127.0.0.1:\(closed)/hook", events: "version.created")
        #expect(try server.cli(["register", Self.golden.appendingPathComponent("a1").path, "--name", "tone"]).status == 0)

        // Meanwhile the server answers at once.
        let started = Date()
        var slowest = 0.0
        while Date().timeIntervalSince(started) < 2 {
            let asked = Date()
            let health = try server.request("GET", "/healthz")
            let versions = try server.request("GET", "/v1/versions", token: token)
            #expect(health.status == 200 && versions.status == 200)
            slowest = max(slowest, Date().timeIntervalSince(asked))
        }
        #expect(slowest < 1.0, "requests waited \(slowest) s")

        let log = try Self.deliveries(server, token: token, hook: hook.id, seconds: 30) { $0.first?["status"] as? String == "failed" }
        let delivery = try #require(log.first)
        #expect(delivery["status"] as? String == "failed", "\(delivery)")
        #expect(delivery["attempts"] as? Int == 3)
        let attempts = try #require(delivery["log"] as? [[String: Any]])
        #expect(attempts.count == 3)
        #expect(attempts.allSatisfy { ($0["httpStatus"] == nil || $0["httpStatus"] is NSNull) && ($0["error"] as? String)?.isEmpty == false }, "\(attempts)")
        #expect(attempts.allSatisfy { ($0["durationMs"] as? Int ?? 99_999) < 2_500 })

        // Refused hook definitions: a usage error before anything is sent, and a 400 over HTTP.
        #expect(try Self.remote(server, token: token, ["hook", "add", "--url", "ftp://example.com/x"]).status == 64)
        #expect(try Self.remote(server, token: token, ["hook", "add", "--url", "http://127.0.0.1:9/x", "--events", "alias.deleted"]).status == 64)
        let bad = try server.request("POST", "/v1/hooks", body: .json(#"{"url": "file:///etc/passwd"}"#), token: token)
        #expect(bad.status == 400, "\(bad)")
        let long = try server.request("POST", "/v1/hooks", body: .json(#"{"url": "http://127.0.0.1/\#(String(repeating: "a", count: 2100))"}"#), token: token)
        #expect(long.status == 400, "\(long)")

        // Whatever the rules accept, the catalog stores (Schemathesis found "http://T-" refused by the table's check
        // as a 500 that quoted the row, the secret in it).
        for url in ["http://T-", "HTTP://Host.example/x", "http://a"] {
            let made = try server.request("POST", "/v1/hooks", body: .json(#"{"url": "\#(url)", "secret": "a-secret-of-sixteen-bytes"}"#), token: token)
            #expect(made.status == 201, "\(url): \(made)")
            #expect(!made.text.contains("Failing row"))
        }
    }
}
