import ArgumentParser
import Foundation
import Postgres
import QuiverCore

/// The `quiver` program: parses the command line, runs the command, and turns every outcome into output and an
/// exit status in this one place (see ``ExitStatus`` for the table).
///
/// Commands only throw. A `NamedError` is printed as `error: <code>: <reason>` and `hint: <hint>` on stderr, or,
/// when the command was given `--json`, as `{"error": {"code", "kind", "message", "hint"}}` on stdout, so a pipe
/// into `jq` sees it; its ``ExitStatus`` comes from its `errorKind`. A failure while parsing (an unknown flag, a
/// malformed value rejected by a `validate()`) is a usage error, status 64, and runs nothing: options are checked
/// before any database or blob store is opened. A command that printed its own outcome (a failed `verify`)
/// throws ``ExitStatus/exitCode``. Secrets (database passwords, S3 keys) are masked in everything printed here.
public enum QuiverProgram {
    /// Runs `quiver` with the process's arguments and exits with the outcome's status.
    public static func main() -> Never {
        let status = run(Array(CommandLine.arguments.dropFirst()))
        exit(status)
    }

    /// Parses and runs `arguments` (without the program name), printing any failure; returns the exit status.
    public static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        let redaction = SecretRedaction(environment: environment, arguments: arguments)
        var command: any ParsableCommand
        do {
            command = try Quiver.parseAsRoot(arguments)
        } catch {
            return reportParseFailure(error, json: wantsJSON(arguments), redaction: redaction)
        }
        // Commands run to completion and exit, each statement's reply awaited in turn; the server stays up, and
        // keeps glibc's defaults and a thread's sleep while PostgreSQL answers (see ReplyWait).
        if !(command is ServeCommand) {
            AllocatorTuning.keepFreedMemoryForReuse()
            ReplyWait.spin(upTo: ReplyWait.oneShotCommandLimit)
        }
        do {
            try command.run()
            return ExitStatus.success.rawValue
        } catch {
            return report(error, json: (command as? any JSONOutputCommand)?.json ?? false, redaction: redaction)
        }
    }

    /// The status and output for an error thrown by a running command.
    static func report(_ error: any Error, json: Bool, redaction: SecretRedaction) -> Int32 {
        switch error {
        case let named as any NamedError:
            let status = ExitStatus(named.errorKind)
            emit(ErrorOutput(named, kind: named.errorKind.rawValue), json: json, redaction: redaction)
            return status.rawValue
        case let exit as ExitCode:
            // The command has printed its outcome already and only sets the status.
            return exit.rawValue
        case _ where isArgumentParserError(error):
            // argument-parser's own errors, thrown while running: the root command's help request when no
            // subcommand is named, or a ValidationError.
            return reportParseFailure(error, json: json, redaction: redaction)
        default:
            let output = ErrorOutput(
                code: "cli.unexpected_error", kind: ErrorKind.internal.rawValue, message: String(describing: error),
                hint: "this is a bug in quiver: please report it with the command that failed")
            emit(output, json: json, redaction: redaction)
            return ExitStatus.internal.rawValue
        }
    }

    /// Help and version requests print to stdout and succeed; anything else is a usage error (64).
    static func reportParseFailure(_ error: any Error, json: Bool, redaction: SecretRedaction) -> Int32 {
        if Quiver.exitCode(for: error) == .success {
            print(Quiver.fullMessage(for: error))
            return ExitStatus.success.rawValue
        }
        if let named = namedValidationError(in: error) {
            emit(ErrorOutput(named, kind: "usage"), json: json, redaction: redaction)
        } else if json {
            let full = Quiver.fullMessage(for: error)
            let seeHelp = full.split(separator: "\n").last { $0.contains("--help") }.map { $0.trimmingCharacters(in: .whitespaces) }
            let output = ErrorOutput(
                code: "cli.usage", kind: "usage", message: Quiver.message(for: error),
                hint: seeHelp ?? "see 'quiver --help'")
            emit(output, json: true, redaction: redaction)
        } else {
            writeStandardError(redaction.redact(Quiver.fullMessage(for: error)) + "\n")
        }
        return ExitStatus.usage.rawValue
    }

    /// The `NamedError` a `validate()` threw, which argument-parser wraps in its own (internal) error types:
    /// `CommandError.parserError` holding `ParserError.userValidationError(error)`, possibly nested.
    static func namedValidationError(in error: any Error) -> (any NamedError)? {
        var current: Any = error
        for _ in 0..<4 {
            if let named = current as? any NamedError { return named }
            let mirror = Mirror(reflecting: current)
            if let inner = mirror.descendant("parserError") {
                current = inner
            } else if let child = mirror.children.first(where: { $0.label == "userValidationError" }) {
                current = child.value
            } else {
                return nil
            }
        }
        return nil
    }

    /// Whether `error` is one of argument-parser's types (some are internal to it: `CommandError`, `ParserError`).
    static func isArgumentParserError(_ error: any Error) -> Bool {
        if error is CleanExit || error is ValidationError { return true }
        let type = String(reflecting: Swift.type(of: error))
        return type.hasPrefix("ArgumentParser.")
    }

    /// Whether the raw arguments ask for JSON (`--json` before any `--`), for errors raised before parsing ends.
    static func wantsJSON(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--json")
    }

    static func emit(_ output: ErrorOutput, json: Bool, redaction: SecretRedaction) {
        let safe = output.redacted(by: redaction)
        if json, let text = try? JSONOutput.string(ErrorOutput.Body(error: safe)) {
            print(text)
        } else {
            writeStandardError("error: \(safe.code): \(safe.message)\n" + (safe.hint.isEmpty ? "" : "hint: \(safe.hint)\n"))
        }
    }

    static func writeStandardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A command with a `--json` flag: its errors are printed as JSON on stdout too.
protocol JSONOutputCommand {
    var json: Bool { get }
}

/// An error as printed: `error: <code>: <message>` + `hint: <hint>`, or the JSON body `{"error": {...}}`.
struct ErrorOutput: Encodable, Equatable {
    let code: String
    /// An `ErrorKind` raw value (`refusal`, `not_found`, …), or `usage` for a command line that did not parse.
    let kind: String
    let message: String
    /// Empty when there is nothing useful to say.
    let hint: String

    init(code: String, kind: String, message: String, hint: String) {
        self.code = code
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    init(_ error: any NamedError, kind: String) {
        self.init(code: error.code, kind: kind, message: error.reason, hint: error.hint)
    }

    func redacted(by redaction: SecretRedaction) -> ErrorOutput {
        ErrorOutput(code: code, kind: kind, message: redaction.redact(message), hint: redaction.redact(hint))
    }

    struct Body: Encodable {
        let error: ErrorOutput
    }
}
