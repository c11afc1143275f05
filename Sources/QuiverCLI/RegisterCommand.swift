import ArgumentParser
import Foundation
import QuiverCore
import Registry

/// `quiver register DIR --name NAME`: uploads a PEFT directory and records it as a new version.
public struct RegisterCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register a PEFT adapter directory as a new version of NAME (identical content returns the existing version).")

    @OptionGroup var options: RegistryOptions
    @Option(help: "Adapter name.") var name: String
    @Option(name: .customLong("tag"), help: "A key=value tag (repeatable).") var tags: [String] = []
    @Option(name: .customLong("base-revision"), help: "The base model's revision (default: the config's revision).") var baseRevision: String?
    @Flag(help: "Print the version as JSON.") var json = false
    @Argument(help: "The adapter directory (adapter_config.json + adapter_model.safetensors).") var directory: String

    public init() {}

    public func validate() throws {
        try AdapterRef.validateName(name)
        _ = try OptionParsing.tags(tags)
    }

    public func run() throws {
        let tags = try OptionParsing.tags(tags)
        // The adapter is validated and hashed while the registry opens (a database connection, perhaps the embedded
        // server starting): neither waits for the other. A refusal of the adapter is reported before a failure to open.
        // The lease on the weights is for a local registry, which uploads them itself (`uploadsLocalFiles`): the
        // service is still opening, so the mode is read from the options.
        let (name, directory, local) = (self.name, URL(fileURLWithPath: self.directory), options.remoteServer == nil)
        let (validated, opened) = ParallelMap.alongside(
            { try Registry.validateForRegistration(directory: directory, name: name, tags: tags, holdingWeights: local) },
            { try options.service() })
        let adapter = try validated.get()
        let outcome = try opened.get().register(validated: adapter, name: name, tags: tags, baseRevision: baseRevision)
        if json { return try printJSON(outcome) }
        print(outcome.existed ? "already registered: \(outcome.version.summaryLine)" : "registered \(outcome.version.summaryLine)")
    }
}
