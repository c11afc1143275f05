import ArgumentParser
import Foundation
import Registry

extension LineageGraph.Format: ExpressibleByArgument {}

/// `quiver lineage REF`: ancestors (or descendants) as text, JSON, Graphviz or Mermaid.
public struct LineageCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "lineage", abstract: "Show where a version came from (or, with --down, what was made from it).")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Walk to descendants instead of ancestors.") var down = false
    @Option(help: "text, json, dot or mermaid.") var format: LineageGraph.Format = .text
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func run() throws {
        try reportingErrors {
            let registry = try options.open()
            let graph = try registry.lineage(of: try registry.resolve(ref), direction: down ? .descendants : .ancestors)
            print(try graph.render(format))
        }
    }
}

/// `quiver audit REF|SHA256|FILE`.
public struct AuditCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "What produced an adapter: trained roots, every merge with its parameters, alias history.")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "A reference, a sha256 (weights, config or canonical), or a file to hash.") var query: String

    public init() {}

    public func run() throws {
        try reportingErrors {
            let report = try options.open().audit(query)
            if json { return try printJSON(report) }
            print(Self.text(report))
        }
    }

    static func text(_ report: AuditReport) -> String {
        var lines = ["audit of \(report.query)", "  is \(report.subject.summaryLine)", "", "lineage:"]
        lines += ((try? report.lineage.render(.text)) ?? "").split(separator: "\n").map { "  " + $0 }
        lines += ["", "trained roots:"]
        for root in report.roots {
            let version = root.version
            lines.append("  \(version.label): registered by \(version.createdBy) at \(version.createdAt.formatted(.iso8601)); r=\(version.rank) alpha=\(formatNumber(version.loraAlpha)) base=\(version.baseModel) sha256:\(version.weightsDigest.hex)")
        }
        lines += ["", "merges:"]
        if report.merges.isEmpty { lines.append("  none") }
        for merge in report.merges {
            lines.append("  #\(merge.id) \(merge.output) = \(merge.method)(\(zip(merge.inputs, merge.weights).map { "\($0) x\(formatNumber($1))" }.joined(separator: ", "))) by \(merge.requestedBy) at \(merge.at.formatted(.iso8601)), quiver \(merge.softwareVersion)")
            lines.append("      params \(merge.params)")
        }
        lines += ["", "alias history:"]
        if report.aliasHistory.isEmpty { lines.append("  none") }
        for event in report.aliasHistory {
            lines.append("  \(event.at.formatted(.iso8601)) \(event.setBy) set \(event.adapter)@\(event.alias) -> \(event.version)\(event.previous.map { " (was \($0))" } ?? "")\(event.forced ? " FORCED" : "")")
        }
        return lines.joined(separator: "\n")
    }
}

/// `quiver verify REF`.
public struct VerifyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Re-read every blob on a version's lineage and re-run every recorded merge; exits 1 on any mismatch.")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func run() throws {
        var passed = true
        try reportingErrors {
            let registry = try options.open()
            let report = try registry.verify(try registry.resolve(ref))
            passed = report.passed
            if json { return try printJSON(report) }
            for check in report.checks { print("\(check.passed ? "ok  " : "FAIL") \(check.kind) \(check.subject): \(check.detail)") }
            print(report.passed ? "verified \(report.subject)" : "verification of \(report.subject) FAILED (\(report.failures.count) check(s))")
        }
        if !passed { throw ExitCode(1) }
    }
}
