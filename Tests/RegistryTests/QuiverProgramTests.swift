import ArgumentParser
import Foundation
@testable import QuiverCLI
import QuiverCore
import Registry
import Testing

/// The exit path's mapping, in process: every error kind's status, errors that are not `NamedError`s, and the
/// `NamedError` a `validate()` threw found inside argument-parser's wrapping.
@Suite("quiver's one exit path")
struct QuiverProgramTests {
    @Test func everyKindHasItsStatus() {
        let expected: [ErrorKind: Int32] = [
            .integrity: 1, .refusal: 2, .invalidInput: 2, .conflict: 2, .notFound: 3, .unavailable: 4, .internal: 70,
            .unauthenticated: 2, .forbidden: 2,
        ]
        #expect(Set(expected.keys) == Set(ErrorKind.allCases))
        for (kind, status) in expected {
            #expect(ExitStatus(kind).rawValue == status, "\(kind)")
            let error = RegistryError(kind, code: "test.\(kind.rawValue)", reason: "a \(kind.rawValue) failure")
            #expect(QuiverProgram.report(error, json: true, redaction: SecretRedaction(secrets: [])) == status)
        }
    }

    /// Every command names itself: without an explicit name, argument-parser derives it with
    /// `String(describing:)`, whose protocol-conformance scans over the whole binary cost a few milliseconds of
    /// every start-up. The names are the derived ones (lower case, words joined by '-').
    @Test func everyCommandHasAnExplicitName() {
        func walk(_ command: any ParsableCommand.Type, _ path: String) {
            let name = command.configuration.commandName
            #expect(name != nil, "\(path) \(command) has no explicit commandName")
            if let name {
                #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(name)")
            }
            for sub in command.configuration.subcommands { walk(sub, "\(path) \(name ?? "?")") }
        }
        walk(Quiver.self, "")
    }

    /// Anything that is not a `NamedError` is a bug: status 70 (internal).
    @Test func anErrorThatIsNotNamedIsInternal() {
        struct Unexpected: Error {}
        #expect(QuiverProgram.report(Unexpected(), json: false, redaction: SecretRedaction(secrets: [])) == 70)
        #expect(QuiverProgram.report(CocoaError(.fileWriteUnknown), json: true, redaction: SecretRedaction(secrets: [])) == 70)
        // A command that printed its outcome only sets the status.
        #expect(QuiverProgram.report(ExitStatus.mismatch.exitCode, json: false, redaction: SecretRedaction(secrets: [])) == 1)
    }

    @Test func theValidationErrorIsFoundInsideArgumentParsersWrapping() throws {
        do {
            _ = try Quiver.parseAsRoot(["merge-files", "--method", "linear", "--weights", "1,oops", "--output", "/nonexistent/out", "a", "b"])
            Issue.record("the weights should have been refused while parsing")
        } catch {
            let named = try #require(QuiverProgram.namedValidationError(in: error))
            #expect(named.code == "merge.bad_parameter")
            #expect(QuiverProgram.reportParseFailure(error, json: false, redaction: SecretRedaction(secrets: [])) == 64)
        }
        do {
            _ = try Quiver.parseAsRoot(["list", "--frobnicate"])
            Issue.record("an unknown flag should not parse")
        } catch {
            #expect(QuiverProgram.namedValidationError(in: error) == nil)
            #expect(QuiverProgram.reportParseFailure(error, json: true, redaction: SecretRedaction(secrets: [])) == 64)
        }
    }

    @Test func jsonIsAskedForBeforeTheSeparatorOnly() {
        #expect(QuiverProgram.wantsJSON(["show", "x", "--json"]))
        #expect(!QuiverProgram.wantsJSON(["register", "--name", "x", "--", "--json"]))
    }

    @Test func errorOutputIsRedacted() {
        let output = ErrorOutput(
            code: "postgres.connection_failed", kind: "unavailable",
            message: "cannot reach postgresql://quiver:s3cret-pw@db.internal:5432/quiver with key AKIA-SECRET-KEY",
            hint: "password=s3cret-pw")
        let redacted = output.redacted(by: SecretRedaction(secrets: ["AKIA-SECRET-KEY"]))
        #expect(!redacted.message.contains("s3cret-pw") && !redacted.hint.contains("s3cret-pw"))
        #expect(!redacted.message.contains("AKIA-SECRET-KEY"))
        #expect(redacted.message.contains("postgresql://quiver:***@db.internal:5432/quiver"))
    }
}
