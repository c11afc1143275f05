import ArgumentParser
import QuiverCore
import Registry

/// `quiver fsck [--deep] [--repair] [--json]`: every invariant between the catalog and the blob store.
public struct FsckCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check every invariant between the catalog and the blob store; exits 1 when any is broken.",
        discussion: """
            Checks that every referenced blob exists with its recorded size (--deep also re-hashes it), every version
            has its files, every merge's lineage edges match its inputs, lineage is acyclic, jobs are in a legal state
            with no dead lease, and alias histories are unbroken. Each violation names the versions, aliases and
            deployed digests it affects. --repair only does what is safe: it re-runs a recorded merge whose files were
            lost and restores them when the result is byte-identical; it never deletes. With --deep it also records
            the SHA-256 chaining states of a blob registered before they were kept (migration 0010), taken from the
            bytes it verified, so that pulls verify that blob's ranges as they arrive.
            """)

    /// Local only: fsck reads the catalog and the store directly (and may repair the store), where they are.
    @OptionGroup var options: LocalRegistryOptions
    @Flag(help: "Also download and re-hash every referenced blob.") var deep = false
    @Flag(help: "Restore lost merge outputs by re-running their recorded merges (never deletes); with --deep, also record missing chaining states.") var repair = false
    @Flag(help: "Print JSON.") var json = false

    public init() {}

    public func run() throws {
        let report = try options.open().fsck(deep: deep, repair: repair)
        if json {
            try printJSON(report)
        } else {
            for line in report.repaired { print("repaired \(TerminalText.escape(line))") }
            for violation in report.violations {
                print(TerminalText.escape("FAIL \(violation.check) \(violation.subject): \(violation.detail)"))
                if !violation.affects.isEmpty { print("     affects \(violation.affects.joined(separator: ", "))") }
                if !violation.aliases.isEmpty { print("     aliases \(violation.aliases.joined(separator: ", "))") }
                if !violation.deployedDigests.isEmpty {
                    print("     deployed weights \(violation.deployedDigests.map { "sha256:\($0.prefix(16))…" }.joined(separator: ", "))")
                }
            }
            print(report.passed
                ? "fsck: \(report.versions) version(s), \(report.blobs) blob(s)\(deep ? " re-hashed" : ""): no violation"
                : "fsck: \(report.violations.count) violation(s) in \(report.versions) version(s), \(report.blobs) blob(s)")
        }
        if !report.passed { throw ExitStatus.mismatch.exitCode }
    }
}
