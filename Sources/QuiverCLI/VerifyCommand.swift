import ArgumentParser
import Registry

/// `quiver verify REF`.
public struct VerifyCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Re-read every blob on a version's lineage and re-run every recorded merge; exits 1 on any mismatch.")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func validate() throws {
        _ = try AdapterRef.parse(ref)
    }

    public func run() throws {
        let report = try options.service().verify(try AdapterRef.parse(ref))
        if json {
            try printJSON(report)
        } else {
            for check in report.checks { print("\(check.passed ? "ok  " : "FAIL") \(check.kind) \(check.subject): \(check.detail)") }
            print(report.passed ? "verified \(report.subject)" : "verification of \(report.subject) FAILED (\(report.failures.count) check(s))")
        }
        if !report.passed { throw ExitStatus.mismatch.exitCode }
    }
}
