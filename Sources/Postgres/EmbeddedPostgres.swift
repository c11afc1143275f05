import Foundation
import QuiverCore

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server that Quiver runs for itself when no database URL is configured, so one command
/// works on a fresh machine with nothing but the PostgreSQL binaries installed.
///
/// The cluster lives in `directory/data`, listens only on a unix socket inside `directory` (no TCP port, mode
/// 0700), trusts local connections as superuser `quiver`, and keeps running after the process exits so the next
/// command reuses it. As root, the server runs as the `postgres` user (or a created `quiver-pg` system user),
/// because PostgreSQL refuses to run as root.
public struct EmbeddedPostgres: Sendable {
    /// The directory holding the data, the socket, the log and the start lock.
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// `pg/` under `QuiverHome`: `$QUIVER_HOME/pg`, else `~/.quiver/pg`, or `/var/lib/quiver/pg` as root.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        QuiverHome.directory(environment: environment).appendingPathComponent("pg", isDirectory: true)
    }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    private var logFile: String { directory.appendingPathComponent("postgres.log").path }

    /// The URL of the `quiver` database on this server (socket connection).
    public var url: String {
        let host = directory.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? directory.path
        return "postgresql://quiver@/quiver?host=\(host)&port=5432"
    }

    /// Starts the server unless it is already running, creates the `quiver` database if missing, and returns
    /// its URL. Safe to call from several processes at once (they serialize on a lock file).
    @discardableResult
    public func start() throws -> String {
        guard !directory.path.contains("'"), directory.path.utf8.count < 90 else {
            throw failure("the directory \(directory.path) contains a quote or is too long for a unix socket path")
        }
        let user = try serverUser()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let user {
            try run("/bin/chown", [user, directory.path])
            // The server user must be able to reach the directory through every parent.
            if (try? ChildProcess.check("/usr/sbin/runuser", ["-u", user, "--", "test", "-w", directory.path])) == nil {
                throw failure("the server user \(user) cannot write \(directory.path) (a parent directory is closed to it); set QUIVER_HOME to a directory it can reach")
            }
        } else {
            chmod(directory.path, 0o700)
        }
        let lock = try FileLock(path: directory.appendingPathComponent("start.lock").path)
        defer { lock.unlock() }

        let bin = try Self.binDirectory()
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            try? FileManager.default.removeItem(atPath: dataDirectory)
            try runServerTool(user, "\(bin)/initdb", ["-D", dataDirectory, "-U", "quiver", "--auth=trust", "-E", "UTF8", "--no-locale"])
        }
        let status = try serverTool(user, "\(bin)/pg_ctl", ["status", "-D", dataDirectory])
        if status.status != 0 {
            let options = "-c listen_addresses='' -c port=5432 -c unix_socket_directories='\(directory.path)' -c unix_socket_permissions=0700"
            try runServerTool(user, "\(bin)/pg_ctl", ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options])
        }
        let admin = try PostgresConnection(url: url.replacingOccurrences(of: "/quiver?", with: "/postgres?"))
        defer { admin.close() }
        let exists = try admin.query("SELECT 1 FROM pg_database WHERE datname = \("quiver")").count == 1
        if !exists { try admin.executeScript("CREATE DATABASE quiver") }
        return url
    }

    /// Stops the server if it runs (fast shutdown); the data stays for the next start.
    public func stop() throws {
        guard FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") else { return }
        let bin = try Self.binDirectory()
        let user = try serverUser()
        if try serverTool(user, "\(bin)/pg_ctl", ["status", "-D", dataDirectory]).status == 0 {
            try runServerTool(user, "\(bin)/pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60"])
        }
    }

    /// True when a server is running on this directory's data.
    public var isRunning: Bool {
        guard let bin = try? Self.binDirectory(), let user = try? serverUser() else { return false }
        return (try? serverTool(user, "\(bin)/pg_ctl", ["status", "-D", dataDirectory]).status) == 0
    }

    // MARK: - Helpers

    /// Where initdb and pg_ctl live: PATH first, then the newest /usr/lib/postgresql/*/bin.
    static func binDirectory() throws -> String {
        let fm = FileManager.default
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            if fm.isExecutableFile(atPath: "\(dir)/pg_ctl"), fm.isExecutableFile(atPath: "\(dir)/initdb") { return String(dir) }
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted()
        for version in versions.reversed() where fm.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/pg_ctl") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw PostgresError(
            .embeddedServer,
            message: "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH nor in /usr/lib/postgresql/*/bin; install them (apt-get install postgresql) or set QUIVER_DATABASE_URL"
        )
    }

    /// nil when we are not root; else the unprivileged user to run the server as (created if needed).
    private func serverUser() throws -> String? {
        guard getuid() == 0 else { return nil }
        if getpwnam("postgres") != nil { return "postgres" }
        if getpwnam("quiver-pg") == nil {
            try run("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "quiver-pg"])
        }
        return "quiver-pg"
    }

    private func serverTool(_ user: String?, _ tool: String, _ arguments: [String]) throws -> ChildProcess.Outcome {
        if let user {
            return try ChildProcess.run("/usr/sbin/runuser", ["-u", user, "--", tool] + arguments)
        }
        return try ChildProcess.run(tool, arguments)
    }

    private func runServerTool(_ user: String?, _ tool: String, _ arguments: [String]) throws {
        let outcome = try serverTool(user, tool, arguments)
        guard outcome.status == 0 else {
            throw failure("\(tool) \(arguments.first ?? "") failed (status \(outcome.status)): \(outcome.stderr)\(outcome.stdout) — log: \(logFile)")
        }
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        do { try ChildProcess.check(tool, arguments) } catch let error as ChildProcessError {
            throw failure(error.reason)
        }
    }

    private func failure(_ message: String) -> PostgresError {
        PostgresError(.embeddedServer, message: "embedded PostgreSQL in \(directory.path): \(message)")
    }
}

/// An exclusive `flock` on a file, held until `unlock()`; serializes embedded-server starts across processes.
struct FileLock {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PostgresError(.embeddedServer, message: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(fd)
                throw PostgresError(.embeddedServer, message: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    func unlock() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
