import ArgumentParser
import Foundation
import Registry

extension VersionKind: ExpressibleByArgument {}

/// `quiver list`: versions, filtered by name, base model, rank, target module, tag or kind.
public struct ListCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "list", abstract: "List and search registered adapter versions.")

    @OptionGroup var options: RegistryOptions
    @Option(help: "Only this adapter name.") var name: String?
    @Option(name: .customLong("base-model"), help: "Only adapters of this base model.") var baseModel: String?
    @Option(help: "Only this LoRA rank r.") var rank: Int?
    @Option(name: .customLong("target-module"), help: "Only adapters adapting this module (e.g. q_proj).") var targetModule: String?
    @Option(name: .customLong("tag"), help: "Only versions with this key=value tag (repeatable).") var tags: [String] = []
    @Option(help: "trained or merged.") var kind: VersionKind?
    @Flag(help: "Print JSON.") var json = false

    public init() {}

    public func run() throws {
        try reportingErrors {
            let filter = VersionFilter(name: name, baseModel: baseModel, rank: rank, targetModule: targetModule, tags: try parseTags(tags), kind: kind)
            let versions = try options.open().list(filter)
            if json { return try printJSON(versions) }
            if versions.isEmpty { print("no adapter versions match") }
            versions.forEach { print($0.summaryLine) }
        }
    }
}

/// `quiver show REF`: one version with its modules, aliases and evaluations.
public struct ShowCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one version (NAME, NAME@VERSION, NAME@ALIAS or a sha256).")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The reference.") var ref: String

    public init() {}

    struct Shown: Encodable {
        let version: AdapterVersion
        let modules: [RecordedModule]
        let aliases: [String: Int]
        let evaluations: [Evaluation]
    }

    public func run() throws {
        try reportingErrors {
            let registry = try options.open()
            let version = try registry.resolve(ref)
            let aliases = Dictionary(try registry.aliases(name: version.name).map { ($0.alias, $0.version) }, uniquingKeysWith: { a, _ in a })
            let shown = Shown(version: version, modules: try registry.modules(of: version), aliases: aliases, evaluations: try registry.evaluations(of: version))
            if json { return try printJSON(shown) }
            print(version.summaryLine)
            print("  canonical sha256:\(version.canonicalDigest.hex)")
            print("  config    sha256:\(version.configDigest.hex) (\(version.configSize) bytes)")
            print("  weights   sha256:\(version.weightsDigest.hex) (\(version.weightsSize) bytes)")
            print("  registered by \(version.createdBy) at \(version.createdAt.formatted(.iso8601))")
            let here = aliases.filter { $0.value == version.version }.keys.sorted()
            if !here.isEmpty { print("  aliases: \(here.joined(separator: ", "))") }
            for module in shown.modules {
                print("  \(module.path): r=\(module.rank) alpha=\(formatNumber(module.alpha)) scaling=\(formatNumber(module.scaling)) \(module.outFeatures)x\(module.inFeatures) \(module.dtype)")
            }
            for evaluation in shown.evaluations {
                print("  eval \(evaluation.suite)/\(evaluation.metric) = \(evaluation.value) (\(evaluation.higherIsBetter ? "higher" : "lower") is better)")
            }
        }
    }
}

/// `quiver pull REF --output DIR`: writes a PEFT directory, verifying every digest.
public struct PullCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download a version as a PEFT directory (every blob verified).")

    @OptionGroup var options: RegistryOptions
    @Option(help: "Output directory (must not exist).") var output: String
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func run() throws {
        try reportingErrors {
            let registry = try options.open()
            let version = try registry.resolve(ref)
            try registry.pull(version, to: URL(fileURLWithPath: output))
            print("pulled \(version.label) into \(output) (config and weights verified)")
        }
    }
}
