import Foundation
import QuiverCore

/// A private PostgreSQL server started by a test through `scripts/services/postgres.sh` with its own state
/// directory, for tests that restart or stop the server without disturbing suites using the shared one.
public final class DedicatedPostgres: Sendable {
    /// The server's URL (database `postgres`, superuser `quiver`).
    public let url: String
    private let stateDirectory: URL

    /// Starts the server; needs the same PostgreSQL binaries as the shared test server.
    public init() throws {
        _ = try TestPostgres.requireURL()
        stateDirectory = try Fixtures.temporaryDirectory("quiver-pg-dedicated")
        try Self.script("start", stateDirectory)
        let env = try String(contentsOf: stateDirectory.appendingPathComponent("postgres.env"), encoding: .utf8)
        guard let line = env.split(separator: "\n").first(where: { $0.contains("QUIVER_TEST_DATABASE_URL=") }),
            let value = line.split(separator: "=", maxSplits: 1).last
        else { throw TestServiceError(message: "postgres.env has no URL:\n\(env)") }
        url = String(value)
    }

    /// Restarts the server (fast shutdown: open sessions are cut) on the same port.
    public func restart() throws {
        try Self.script("restart", stateDirectory)
    }

    /// Stops the server and deletes its data.
    public func stop() throws {
        try Self.script("stop", stateDirectory)
        try? FileManager.default.removeItem(at: stateDirectory)
    }

    private static func script(_ command: String, _ directory: URL) throws {
        let script = Fixtures.packageRoot.appendingPathComponent("scripts/services/postgres.sh").path
        try ServiceProcess.run("/bin/bash", [script, command], environment: ["QUIVER_PG_SERVICE_DIR": directory.path])
    }
}

/// Runs a helper program and returns its standard output, or throws with its output.
enum ServiceProcess {
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        do {
            return try ChildProcess.check(executable, arguments, environment: environment)
        } catch let error as ChildProcessError {
            throw TestServiceError(message: error.reason)
        }
    }
}
