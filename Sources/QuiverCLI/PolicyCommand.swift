import ArgumentParser
import Foundation
import Registry

/// `quiver policy set KEY JSON` / `quiver policy show`.
public struct PolicyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "policy", abstract: "The registry's merge and promotion policy.", subcommands: [Show.self, Set.self])
    public init() {}

    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the policy in force (JSON).")
        @OptionGroup var options: RegistryOptions
        public init() {}
        public func run() throws { try printJSON(try options.service().policy()) }
    }

    public struct Set: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "set",
            abstract: "Set a policy key: allow_scaling_fold, max_merged_rank, allowed_methods, protected_aliases.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "Key.") var key: String
        @Argument(help: "JSON value, e.g. 64 or '[\"ties\"]'.") var json: String
        public init() {}

        /// The key and the value's type are the registry's rules (checked before anything is opened); the value
        /// must at least be JSON.
        public func validate() throws {
            guard (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])) != nil else {
                throw OptionError("invalid_json", "'\(json)' is not JSON", hint: "quote it for the shell, e.g. '[\"ties\"]'")
            }
            var policy = RegistryPolicy()
            try policy.apply(key: key, json: Data(json.utf8))
        }

        public func run() throws { try printJSON(try options.service().setPolicy(key: key, json: json)) }
    }
}
