import ArgumentParser
import Registry

extension VersionKind: ExpressibleByArgument {}

/// `quiver list`: versions, filtered by name, base model, rank, target module, tag or kind.
public struct ListCommand: ParsableCommand, JSONOutputCommand {
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

    public func validate() throws {
        if let name { try AdapterRef.validateName(name) }
        _ = try OptionParsing.tags(tags)
    }

    public func run() throws {
        let filter = VersionFilter(
            name: name, baseModel: baseModel, rank: rank, targetModule: targetModule, tags: try OptionParsing.tags(tags), kind: kind)
        let versions = try options.service().list(filter, limit: 1000)
        if json { return try printJSON(versions) }
        if versions.isEmpty { print("no adapter versions match") }
        versions.forEach { print($0.summaryLine) }
    }
}
