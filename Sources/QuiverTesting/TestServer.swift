import Foundation
import QuiverCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `quiver serve` process on a loopback port, over a scratch database of the test PostgreSQL and a fresh
/// prefix of the test S3 bucket, for tests that drive the HTTP API the way a client does.
///
/// Requests go through the `curl` program (``request(_:_:headers:body:)``), so what is tested is the bytes on the
/// wire. ``stop()`` sends SIGTERM and waits: the server must shut down gracefully and exit 0.
public final class TestServer: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a `let` except `stopped`, which only `stop()` sets, once,
    // from the test's own thread.
    public let baseURL: String
    public let port: Int
    public let databaseURL: String
    public let blobStoreURL: String
    /// The server's `QUIVER_HOME` (its signing key), removed by ``tearDown()``.
    public let home: URL
    /// The variables the server runs with (database, blob store, S3 credentials): a CLI run against the same
    /// registry uses them too.
    public let environment: [String: String]
    private let process: ChildProcess.Running
    private var stopped: ChildProcess.Outcome?

    /// Starts `quiver serve` with `arguments` appended (e.g. `--max-blob-size 64KiB`) and waits until `/healthz`
    /// answers.
    public init(arguments: [String] = []) throws {
        let s3 = try TestS3.require()
        databaseURL = try TestPostgres.createScratchDatabase()
        blobStoreURL = "s3://\(s3.bucket)/srv-\(UUID().uuidString.lowercased())"
        // A home of its own: the server's generated signing key (keys/signing-key.pem) lives there, not in the user's.
        home = FileManager.default.temporaryDirectory.appendingPathComponent("srv-home-\(UUID().uuidString)", isDirectory: true)
        environment = s3.awsEnvironment.merging([
            "QUIVER_DATABASE_URL": databaseURL, "QUIVER_BLOB_STORE": blobStoreURL, "QUIVER_ACTOR": "test-server", "QUIVER_HOME": home.path,
        ]) { $1 }
        var started: (ChildProcess.Running, Int)?
        var lastFailure = ""
        // A free port is found by binding and closing; another process may take it in between, so retry.
        for _ in 0..<5 {
            let port = try Self.freeLoopbackPort()
            let running = try ChildProcess.start(
                Fixtures.quiverExecutable.path, ["serve", "--port", String(port)] + arguments, environment: environment)
            if Self.waitForHealth(port: port, process: running) {
                started = (running, port)
                break
            }
            running.send(SIGKILL)
            let outcome = running.wait()
            lastFailure = "status \(outcome.status): \(outcome.stderr.suffix(2000))"
        }
        guard let (running, port) = started else {
            try? TestPostgres.dropDatabase(url: databaseURL)
            throw TestServiceError(message: "quiver serve did not start: \(lastFailure)")
        }
        process = running
        self.port = port
        baseURL = "http://127.0.0.1:\(port)"
    }

    /// Sends SIGTERM and waits for the process; returns its exit status and output (stderr holds the log).
    @discardableResult
    public func stop() -> ChildProcess.Outcome {
        if let stopped { return stopped }
        process.send(SIGTERM)
        let outcome = process.wait()
        stopped = outcome
        return outcome
    }

    /// Stops the server (if running) and drops the scratch database.
    public func tearDown() {
        stop()
        try? TestPostgres.dropDatabase(url: databaseURL)
        try? FileManager.default.removeItem(at: home)
    }

    /// Runs `quiver` against the server's registry (same database and blob store).
    public func cli(_ arguments: [String]) throws -> ChildProcess.Outcome {
        try ChildProcess.run(Fixtures.quiverExecutable.path, arguments, environment: environment)
    }

    /// Runs SQL on the server's catalog and returns psql's tuples-only output, trimmed.
    public func sql(_ query: String) throws -> String {
        try TestPostgres.psql(databaseURL, query).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - HTTP

    /// One HTTP exchange as `curl` saw it.
    public struct Exchange: Sendable, CustomStringConvertible {
        public let status: Int
        /// Header names lower-cased; the last value of a repeated header.
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object or array.
        public func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        public var description: String { "HTTP \(status) \(headers)\n\(text.prefix(3000))" }
    }

    /// What to send as the body.
    public enum Body: Sendable {
        case none
        case json(String)
        case file(URL)
        case bytes(Data)
    }

    /// Sends one request with `curl` (no retries, no redirects) and returns what came back.
    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Body = .none,
                        token: String? = nil) throws -> Exchange {
        let scratch = try Fixtures.temporaryDirectory("http")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bodyOut = scratch.appendingPathComponent("body"), headersOut = scratch.appendingPathComponent("headers")
        var arguments = ["-sS", "--max-time", "120", "-o", bodyOut.path, "-D", headersOut.path, "-w", "%{http_code}",
                         "-H", "Expect:"]
        if method == "HEAD" { arguments += ["-I"] } else { arguments += ["-X", method] }
        var allHeaders = headers
        if let token { allHeaders["Authorization"] = "Bearer \(token)" }
        switch body {
        case .none: break
        case .json(let text):
            let file = scratch.appendingPathComponent("request.json")
            try Data(text.utf8).write(to: file)
            arguments += ["--data-binary", "@\(file.path)"]
            if allHeaders["Content-Type"] == nil { allHeaders["Content-Type"] = "application/json" }
        case .file(let url):
            arguments += ["--data-binary", "@\(url.path)"]
            if allHeaders["Content-Type"] == nil { allHeaders["Content-Type"] = "application/octet-stream" }
        case .bytes(let data):
            let file = scratch.appendingPathComponent("request.bin")
            try data.write(to: file)
            arguments += ["--data-binary", "@\(file.path)"]
            if allHeaders["Content-Type"] == nil { allHeaders["Content-Type"] = "application/octet-stream" }
        }
        for (name, value) in allHeaders.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
        arguments.append(baseURL + path)
        let outcome = try ChildProcess.run("curl", arguments)
        guard outcome.status == 0, let status = Int(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestServiceError(message: "curl \(method) \(path) failed (\(outcome.status)): \(outcome.stderr)")
        }
        var fields: [String: String] = [:]
        let raw = (try? String(contentsOf: headersOut, encoding: .utf8)) ?? ""
        // With `Expect:` cleared there is one head; still keep the last (final) response's headers.
        for block in raw.components(separatedBy: "\r\n\r\n") where block.hasPrefix("HTTP/") {
            fields = [:]
            for line in block.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let data = (try? Data(contentsOf: bodyOut)) ?? Data()
        return Exchange(status: status, headers: fields, body: data)
    }

    // MARK: - Process helpers

    static func waitForHealth(port: Int, process: ChildProcess.Running) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let outcome = try? ChildProcess.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                                                            "http://127.0.0.1:\(port)/healthz"]),
               outcome.stdout == "200" {
                return true
            }
            // Exited already (bad flags, port taken)?
            var status: Int32 = 0
            if waitpid(process.pid, &status, WNOHANG) == process.pid { return false }
            usleep(100_000)
        }
        return false
    }

    /// A loopback port nothing listens on now (``LoopbackPort/free()``: below the ephemeral range).
    public static func freeLoopbackPort() throws -> Int {
        try LoopbackPort.free()
    }
}
