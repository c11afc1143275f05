import ArgumentParser
import Registry
import QuiverCore

/// `quiver show REF`: one version with its modules, aliases and evaluations.
public struct ShowCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one version (NAME, NAME@VERSION, NAME@ALIAS or a sha256).")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func validate() throws {
        _ = try AdapterRef.parse(ref)
    }

    public func run() throws {
        let shown = try options.service().show(try AdapterRef.parse(ref))
        let version = shown.version, aliases = shown.aliases
        if json { return try printJSON(shown) }
        print(version.summaryLine)
        print("  canonical sha256:\(version.canonicalDigest.hex)")
        print("  config    sha256:\(version.configDigest.hex) (\(version.configSize) bytes)")
        print("  weights   sha256:\(version.weightsDigest.hex) (\(version.weightsSize) bytes)")
        print("  registered by \(TerminalText.escape(version.createdBy)) at \(version.createdAt.formatted(.iso8601))")
        let here = aliases.filter { $0.value == version.version }.keys.sorted()
        if !here.isEmpty { print("  aliases: \(here.joined(separator: ", "))") }
        for module in shown.modules {
            print("  \(module.path): r=\(module.rank) alpha=\(NumberFormat.compact(module.alpha)) scaling=\(NumberFormat.compact(module.scaling)) \(module.outFeatures)x\(module.inFeatures) \(module.dtype)")
        }
        for evaluation in shown.evaluations {
            print("  eval \(evaluation.suite)/\(evaluation.metric) = \(evaluation.value) (\(evaluation.higherIsBetter ? "higher" : "lower") is better)")
        }
    }
}
