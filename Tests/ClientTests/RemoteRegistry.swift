import Foundation
import QuiverCore
import QuiverTesting
import Testing

/// A registry served by a real `quiver serve` process (``TestServer``: a scratch database, a fresh prefix of the test
/// S3 bucket), with three tokens (admin, writer, reader): the same registry is reachable in remote mode (`--server`
/// + `QUIVER_TOKEN`) and in local mode (the server's own settings), so a test can compare the two.
struct RemoteRegistry {
    let server: TestServer
    let admin: String
    let writer: String
    let reader: String

    /// A finished `quiver` run.
    struct Run: CustomStringConvertible {
        let arguments: [String]
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double

        var description: String { "quiver \(arguments.joined(separator: " ")) -> \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

        /// The `error` object of a JSON error body on stdout.
        func errorBody() throws -> [String: String] {
            let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
            return try #require(object?["error"] as? [String: String], "no error body in: \(stdout)")
        }
    }

    /// Starts the server, then creates the tokens in local mode, as an operator would.
    static func start(serveArguments: [String] = []) throws -> RemoteRegistry {
        let server = try TestServer(arguments: ["--workers", "1", "--threads", "4"] + serveArguments)
        do {
            func token(_ name: String, _ scope: String) throws -> String {
                let run = try quiver(["token", "create", "--name", name, "--scope", scope], environment: server.environment)
                try #require(run.status == 0, "\(run)")
                return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return RemoteRegistry(server: server, admin: try token("ops", "admin"), writer: try token("ci", "write"), reader: try token("viewer", "read"))
        } catch {
            server.tearDown()
            throw error
        }
    }

    func stop() {
        server.tearDown()
    }

    static func quiver(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let executable = Fixtures.quiverExecutable.path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "build the quiver product first (swift build)")
        let start = Date()
        let outcome = try ChildProcess.run(executable, arguments, environment: environment)
        return Run(arguments: arguments, status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr, seconds: -start.timeIntervalSinceNow)
    }

    /// `quiver ARGS` against the server (`QUIVER_SERVER`), presenting `token`.
    func remote(_ arguments: [String], token: String?) throws -> Run {
        var environment = ["QUIVER_SERVER": server.baseURL]
        if let token { environment["QUIVER_TOKEN"] = token }
        return try Self.quiver(arguments, environment: environment)
    }

    /// `quiver ARGS` on the same registry in local mode (the server's database and blob store), acting as `actor`.
    func local(_ arguments: [String], actor: String = "local") throws -> Run {
        try Self.quiver(arguments + ["--actor", actor], environment: server.environment)
    }

    /// Runs `arguments` in both modes and expects the same status, stdout and stderr; returns the remote run.
    @discardableResult
    func expectSameOutput(_ arguments: [String], token: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        let remote = try remote(arguments, token: token)
        let local = try local(arguments)
        #expect(remote.status == local.status, "\(remote)\n--- local: \(local)", sourceLocation: sourceLocation)
        #expect(remote.stdout == local.stdout, "\(remote)\n--- local: \(local)", sourceLocation: sourceLocation)
        #expect(Self.errorLines(remote.stderr) == Self.errorLines(local.stderr), "\(remote)\n--- local: \(local)", sourceLocation: sourceLocation)
        return remote
    }

    /// The `error:` and `hint:` lines of standard error (a remote run adds progress lines).
    static func errorLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasPrefix("error: ") || $0.hasPrefix("hint: ") }
    }

    /// How many blob uploads the server has answered (`quiver_http_requests_total` for `PUT /v1/blobs/{sha256}`).
    func blobUploads() throws -> Int {
        let metrics = try server.request("GET", "/metrics")
        try #require(metrics.status == 200, "\(metrics)")
        return metrics.text.split(separator: "\n")
            .filter { $0.hasPrefix("quiver_http_requests_total{") && $0.contains(#"method="PUT""#) && $0.contains(#"route="/v1/blobs/{sha256}""#) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }

    /// A golden PEFT adapter directory.
    static func golden(_ name: String) -> String {
        Fixtures.peftGolden.appendingPathComponent("adapters/\(name)", isDirectory: true).path
    }

    /// Calls `body` every 100 ms until it returns a value, for at most `seconds`.
    static func poll<T>(seconds: Double, _ body: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try body() { return value }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestServiceError(message: "the condition did not hold within \(seconds) s")
    }
}
