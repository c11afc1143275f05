import Foundation
import Testing

/// The PostgreSQL server started by `scripts/services/postgres.sh`, for integration tests.
///
/// Tests call `requireURL()` (or `createScratchDatabase()`), which skips the test when no server is configured,
/// except under CI (`CI` set), where a missing server is a failure. Databases are created and dropped with
/// `psql`, so this module needs no Postgres client of its own.
public enum TestPostgres {
    /// `QUIVER_TEST_DATABASE_URL`, written to `.services/postgres.env` by the service script.
    public static var url: String? {
        ProcessInfo.processInfo.environment["QUIVER_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The server URL; skips the test (or fails it under CI) when none is configured.
    public static func requireURL() throws -> String {
        if let url { return url }
        let message = "QUIVER_TEST_DATABASE_URL is not set: run `bash scripts/services/postgres.sh start && source .services/postgres.env`"
        if ProcessInfo.processInfo.environment["CI"] != nil {
            throw TestServiceError(message: message + " (required under CI)")
        }
        try Test.cancel(Comment(rawValue: message))
    }

    /// Creates a brand-new empty database (`quiver_test_<random>`) and returns its URL, so suites running in
    /// parallel never see each other's tables. Drop it with `dropDatabase(url:)` when done.
    public static func createScratchDatabase() throws -> String {
        let server = try requireURL()
        let name = "quiver_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try psql(server, "CREATE DATABASE \(name)")
        return try replacingDatabase(in: server, with: String(name))
    }

    /// Drops a database made by `createScratchDatabase()`, ending its open sessions first.
    public static func dropDatabase(url: String) throws {
        let server = try requireURL()
        guard let components = URLComponents(string: url) else { return }
        let name = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard name.hasPrefix("quiver_test_"), name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw TestServiceError(message: "refusing to drop \(name): not a scratch database")
        }
        try psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs SQL through `psql` and returns its unaligned, tuples-only output.
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        try ServiceProcess.run(psqlPath(), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url, "-c", sql])
    }

    /// The same URL pointing at another database on the same server.
    public static func replacingDatabase(in url: String, with database: String) throws -> String {
        guard var components = URLComponents(string: url) else {
            throw TestServiceError(message: "cannot parse database URL \(url)")
        }
        components.path = "/" + database
        guard let result = components.string else { throw TestServiceError(message: "cannot build URL for \(database)") }
        return result
    }

    private static func psqlPath() -> String {
        let fm = FileManager.default
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(dir)/psql"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        let versions = (try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted() ?? []
        return versions.last.map { "/usr/lib/postgresql/\($0)/bin/psql" } ?? "psql"
    }
}

/// A setup problem with a test service (server missing, script failed).
public struct TestServiceError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
