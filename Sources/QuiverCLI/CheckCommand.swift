import ArgumentParser
import Foundation
import LoRA
import Merge
import QuiverCore

/// `quiver check`: how much adapters would interfere if merged, before merging them.
public struct CheckCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report sign conflicts, cosine similarity and subspace overlap between adapters, with a verdict.",
        discussion: """
            Sign conflicts are counted after trimming each module's dense update to its largest --density fraction
            (0.2, like TIES), among entries where two or more inputs keep a value. Cosines and subspace overlaps are
            computed from the factors without forming dense updates.
            """)

    @Flag(help: "Print the full report as JSON.")
    var json = false

    @Option(help: "Fraction of each update kept before counting sign conflicts.")
    var density: Double = 0.2

    @Option(help: "Modules analysed at once (default: all cores).")
    var threads: Int?

    @Argument(help: "Adapter directories to compare.")
    var inputs: [String]

    public init() {}

    public func validate() throws {
        guard (0...1).contains(density) else {
            throw OptionError("invalid_option", "--density must be in [0, 1], got \(density)", hint: "use 0.2, like TIES")
        }
        try OptionParsing.positive(threads, "threads")
    }

    public func run() throws {
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        let descriptors = try adapters.map(MergeEngine.descriptor(for:))
        let report = try InterferenceAnalyzer.analyze(
            inputs: descriptors, trimDensity: density, threads: threads) { index, path in
                try adapters[index].factors(path)
            }
        print(json ? try JSONOutput.string(report) : Self.text(report))
    }

    static func text(_ report: InterferenceReport) -> String {
        let percent = NumberFormat.percent
        var lines = ["inputs: " + report.inputs.enumerated().map { "[\($0)] \($1)" }.joined(separator: "  ")]
        lines.append("sign conflicts counted after trimming each update to its top \(Int(report.trimDensity * 100))%")
        lines.append("module                                              conflicts  pair  cosine  overlap")
        for module in report.modules {
            let name = module.path.padding(toLength: 50, withPad: " ", startingAt: 0)
            if module.pairs.isEmpty {
                lines.append("\(name)  \(percent(module.signConflictRate))   (one input)")
            }
            for (index, pair) in module.pairs.enumerated() {
                let head = index == 0 ? "\(name)  \(percent(module.signConflictRate))" : String(repeating: " ", count: 59)
                lines.append(head + "  \(pair.first)-\(pair.second)  \(NumberFormat.fixed(pair.cosine, 3, sign: true))  \(NumberFormat.fixed(pair.subspaceOverlap, 3))")
            }
        }
        lines.append("overall sign-conflict rate: \(percent(report.signConflictRate))")
        if let retention = report.factorMergeRetention {
            lines.append("factor-space merge (linear/ties/dare/magnitude_prune): keeps \(percent(retention)) of the exact sum, "
                + "cross-term error \(percent(report.factorMergeRelativeError)), factor sign conflicts \(percent(report.factorSignConflictRate))")
        }
        for pair in report.pairs {
            lines.append("overall [\(pair.first)]-[\(pair.second)]: cosine \(NumberFormat.fixed(pair.cosine, 3, sign: true)), subspace overlap \(NumberFormat.fixed(pair.subspaceOverlap, 3))")
        }
        lines.append("verdict: \(report.verdict)")
        return lines.joined(separator: "\n")
    }
}
