import ArgumentParser
import Registry

/// `quiver job show ID`.
public struct JobCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "job", abstract: "Inspect merge jobs.", subcommands: [Show.self])
    public init() {}

    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a merge job's status (JSON).")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The job id.") var id: Int64
        public init() {}

        public func validate() throws {
            guard id >= 1 else { throw OptionError("invalid_option", "job ids start at 1, got \(id)") }
        }

        public func run() throws {
            try printJSON(try options.service().job(id: id))
        }
    }
}
