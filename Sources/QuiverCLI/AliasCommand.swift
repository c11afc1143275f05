import ArgumentParser
import Registry

/// `quiver alias set NAME ALIAS VERSION [--force]`.
public struct AliasCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "alias", abstract: "Move aliases (history kept).", subcommands: [Set.self])
    public init() {}

    public struct Set: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "set",
            abstract: "Point NAME@ALIAS at VERSION. Protected aliases need evaluations at least as good as the parents' (or --force, audited).")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Override the promotion rule (recorded in the audit trail).") var force = false
        @Argument(help: "Adapter name.") var name: String
        @Argument(help: "Alias.") var alias: String
        @Argument(help: "Version number.") var version: Int
        public init() {}

        public func validate() throws {
            try AdapterRef.validateName(name)
            try OptionParsing.alias(alias, of: name)
            guard version >= 1 else { throw OptionError("invalid_option", "version numbers start at 1, got \(version)") }
        }

        public func run() throws {
            let outcome = try options.service().setAlias(name: name, alias: alias, version: version, force: force)
            var line = "\(name)@\(alias) -> \(outcome.version.label)"
            if let previous = outcome.previousVersion { line += " (was \(name)@\(previous))" }
            if outcome.forced { line += "; FORCED over: " + outcome.overridden.joined(separator: "; ") }
            print(line)
        }
    }
}
