import CFileSync
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a helper program (initdb, pg_ctl, psql…) to completion with `posix_spawn` and `waitpid`.
///
/// Foundation's `Process.waitUntilExit` was seen to hang on Linux when several tests spawn children at once
/// (the child stayed a zombie, never reaped); a direct `waitpid` on our own pid cannot miss the exit.
/// Output goes to temporary files, not pipes, so a daemon started by the child cannot hold our read open.
public enum ChildProcess {
    /// The exit status and captured output of a finished child.
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `executable` with `arguments`, stdin from /dev/null, extra `environment` on top of ours.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try start(executable, arguments, environment: environment).wait()
    }

    /// Starts `executable` without waiting for it; the caller must `wait()` (or the child stays a zombie).
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let directory = FileManager.default.temporaryDirectory.path
        let token = UUID().uuidString
        let outPath = "\(directory)/quiver-child-\(token).out"
        let errPath = "\(directory)/quiver-child-\(token).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else this process has open reaches the child: a descriptor another thread opened without
        // O_CLOEXEC (Foundation's FileHandle, say) would otherwise stay open in a long-lived child such as the
        // embedded PostgreSQL server, holding a file open for writing that the process has long closed (and so
        // refusing it a lease, `FileLease`).
        _ = quiver_spawn_close_from(&actions, 3)

        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            unlink(outPath)
            unlink(errPath)
            throw ChildProcessError(executable: executable, arguments: arguments, status: -1, output: String(cString: strerror(spawned)))
        }
        return Running(pid: pid, outPath: outPath, errPath: errPath)
    }

    /// A started child: signal it, then reap it with `wait()`.
    public struct Running: Sendable {
        public let pid: pid_t
        let outPath: String
        let errPath: String

        /// Sends `signal` (e.g. `SIGKILL`) to the child.
        public func send(_ signal: Int32) {
            kill(pid, signal)
        }

        /// Waits for the child to exit and returns its status and output; a child killed by signal N has status 128+N.
        public func wait() -> Outcome {
            defer {
                unlink(outPath)
                unlink(errPath)
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 {
                guard errno == EINTR else { break }
            }
            // WIFEXITED/WEXITSTATUS are macros Swift cannot import: exit code in bits 8-15, signal in the low 7.
            let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            return Outcome(status: exitCode, stdout: out, stderr: err)
        }
    }

    /// Runs the program and returns its trimmed standard output; a non-zero exit throws with its output.
    @discardableResult
    public static func check(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let outcome = try run(executable, arguments, environment: environment)
        guard outcome.status == 0 else {
            throw ChildProcessError(executable: executable, arguments: arguments, status: outcome.status, output: outcome.stderr + outcome.stdout)
        }
        return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A helper program failed to start or exited non-zero.
public struct ChildProcessError: NamedError {
    public let executable: String
    public let arguments: [String]
    public let status: Int32
    public let output: String

    public var code: String { "process.failed" }
    public var errorKind: ErrorKind { .unavailable }
    public var reason: String {
        "\(executable) \(arguments.joined(separator: " ")) exited with status \(status): \(output.suffix(2000))"
    }
    public var hint: String { "check that the program is installed and read its output above" }
}
