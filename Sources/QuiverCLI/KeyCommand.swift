import ArgumentParser
import Foundation
import Registry

/// `quiver key public`: the registry's public signing key.
public struct KeyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "key", abstract: "The registry's signing key (ECDSA P-256).", subcommands: [Public.self])
    public init() {}

    public struct Public: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "public",
            abstract: "Print the public key (PEM) that verifies attestations and model.sig.",
            discussion: "Local mode reads QUIVER_SIGNING_KEY, else the key generated under QUIVER_HOME/keys (created on first use, 0600); with --server, the server's.")
        @OptionGroup var options: RegistryOptions

        public init() {}

        public func run() throws {
            print(try options.publicKeyPEM(), terminator: "")
        }
    }
}

extension RegistryOptions {
    /// The registry's public key: the server's in remote mode; locally the configured key, without opening the
    /// catalog. `generate`: make the default key when there is none yet (not when verifying).
    func publicKeyPEM(generate: Bool = true) throws -> String {
        if isRemote { return try service().signingPublicKey() }
        return try configuration.signingKey.load(create: generate).publicKey.pem
    }
}
