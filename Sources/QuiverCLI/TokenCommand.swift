import ArgumentParser
import Foundation
import Registry

extension TokenScope: ExpressibleByArgument {}

/// `quiver token create|list|revoke`: API tokens for `quiver serve`, managed in the catalog (local mode: whoever runs
/// this has the database) or through a server (`--server`, with an admin token).
public struct TokenCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke API tokens for quiver serve.", subcommands: [Create.self, List.self, Revoke.self])
    public init() {}

    /// Prints the new token alone on stdout, so `export QUIVER_TOKEN=$(quiver token create …)` works.
    public struct Create: ParsableCommand, JSONOutputCommand {
        public static let configuration = CommandConfiguration(commandName: "create",
            abstract: "Create a token and print it (alone on stdout; it is shown once, only its sha256 is kept).")
        @OptionGroup var options: RegistryOptions
        @Option(help: "The token's name (1-64 letters, digits, '.', '_', '-'), as the audit trail will show it.") var name: String
        @Option(help: "read, write or admin (each includes the ones before it).") var scope: TokenScope
        @Option(help: "Only adapters whose name matches this glob ('*' matches any run of characters).") var names: String?
        @Option(help: "Expire after this long (e.g. 30d, 12h); default never.") var expires: String?
        @Flag(help: "Print the token and its record as JSON.") var json = false

        public init() {}

        public func validate() throws {
            try Registry.validateToken(name: name, namePattern: names)
            if let expires, try OptionParsing.seconds(expires) < 1 {
                throw OptionError("invalid_option", "--expires must be at least 1s, got \(expires)", hint: "use e.g. --expires 30d")
            }
        }

        public func run() throws {
            let seconds = try expires.map(OptionParsing.seconds)
            let created = try options.service().createToken(name: name, scope: scope, namePattern: names, expiresInSeconds: seconds)
            if json { return try printJSON(created) }
            print(created.secret)
        }
    }

    public struct List: ParsableCommand, JSONOutputCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tokens (never their secrets).")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Print JSON.") var json = false
        public init() {}

        public func run() throws {
            let tokens = try options.service().tokens()
            if json { return try printJSON(tokens) }
            if tokens.isEmpty { return print("no tokens") }
            for token in tokens {
                var state = "active"
                if let revoked = token.revokedAt { state = "revoked \(revoked.formatted(.iso8601))" }
                else if let expires = token.expiresAt { state = expires <= Date() ? "expired" : "expires \(expires.formatted(.iso8601))" }
                print("\(token.name)  \(token.scope)  names=\(token.namePattern ?? "*")  \(state)  by \(token.createdBy)")
            }
        }
    }

    public struct Revoke: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: it stops working at once.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The token's name.") var name: String
        public init() {}

        public func run() throws {
            try options.service().revokeToken(name: name)
            print("revoked token \(name)")
        }
    }
}
