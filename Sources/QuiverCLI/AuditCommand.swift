import ArgumentParser
import QuiverCore
import Registry

/// `quiver audit REF|SHA256|FILE`.
public struct AuditCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "What produced an adapter: trained roots, every merge with its parameters, alias history.")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print the head of the audit trail's hash chain (position and hash) instead; keep it elsewhere to detect later rewrites.")
    var head = false
    @Argument(help: "A reference, a sha256 (weights, config or canonical), or a file to hash.") var query: String?

    public init() {}

    public func validate() throws {
        guard head != (query != nil) else {
            throw ValidationError(head ? "--head takes no reference" : "name a reference, a sha256 or a file (or pass --head)")
        }
        if head { try options.requireLocal("--head", why: "the audit chain's head is read from the catalog itself") }
    }

    public func run() throws {
        guard let query else {
            let chain = try options.localRegistry().auditHead()
            if json { return try printJSON(chain) }
            return print(chain.map { "audit chain head: position \($0.position) sha256:\($0.hash)" } ?? "audit chain is empty")
        }
        let target = try Registry.auditTarget(query)
        let report = try options.service().audit(target.ref, label: target.label)
        if json { return try printJSON(report) }
        print(Self.text(report))
    }

    static func text(_ report: AuditReport) -> String {
        var lines = ["audit of \(report.query)", "  is \(report.subject.summaryLine)", "", "lineage:"]
        lines += ((try? report.lineage.render(.text)) ?? "").split(separator: "\n").map { "  " + $0 }
        lines += ["", "trained roots:"]
        for root in report.roots {
            let version = root.version
            lines.append("  \(version.label): registered by \(version.createdBy) at \(version.createdAt.formatted(.iso8601)); r=\(version.rank) alpha=\(NumberFormat.compact(version.loraAlpha)) base=\(version.baseModel) sha256:\(version.weightsDigest.hex)")
        }
        lines += ["", "merges:"]
        if report.merges.isEmpty { lines.append("  none") }
        for merge in report.merges {
            lines.append("  #\(merge.id) \(merge.output) = \(merge.method)(\(zip(merge.inputs, merge.weights).map { "\($0) x\(NumberFormat.compact($1))" }.joined(separator: ", "))) by \(merge.requestedBy) at \(merge.at.formatted(.iso8601)), quiver \(merge.softwareVersion)")
            lines.append("      params \(merge.params)")
        }
        lines += ["", "alias history:"]
        if report.aliasHistory.isEmpty { lines.append("  none") }
        for event in report.aliasHistory {
            lines.append("  \(event.at.formatted(.iso8601)) \(event.setBy) set \(event.adapter)@\(event.alias) -> \(event.version)\(event.previous.map { " (was \($0))" } ?? "")\(event.forced ? " FORCED" : "")")
        }
        return TerminalText.escape(lines.joined(separator: "\n"))
    }
}
