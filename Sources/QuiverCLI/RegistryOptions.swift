import ArgumentParser
import Foundation
import QuiverClient
import Registry

/// The options every registry command shares: a server to talk to (remote mode), or where the catalog and the
/// blobs are and who is acting (local mode). A command resolves a ``RegistryService`` from them and never knows
/// which mode it runs in.
///
/// Remote mode is `--server URL`, else `QUIVER_SERVER`; the token comes from `QUIVER_TOKEN` or `QUIVER_TOKEN_FILE`
/// only (never the command line, where `ps` shows it). The local-only flags (`--database-url`, `--blob-store`) and
/// `--actor` (the server records the token's name) are refused there as usage errors.
public struct RegistryOptions: ParsableArguments {
    @Option(name: .long, help: "A quiver serve to use instead of a local registry (default: QUIVER_SERVER); the token comes from QUIVER_TOKEN or QUIVER_TOKEN_FILE.")
    var server: String?

    @OptionGroup var local: LocalRegistryOptions

    public init() {}

    /// The server of remote mode: the flag, else `QUIVER_SERVER`; nil in local mode.
    var remoteServer: String? {
        for candidate in [server, ProcessInfo.processInfo.environment["QUIVER_SERVER"]] {
            if let candidate, !candidate.trimmingCharacters(in: .whitespaces).isEmpty { return candidate }
        }
        return nil
    }

    public func validate() throws {
        guard let remoteServer else { return }
        _ = try ClientSettings.serverURL(remoteServer)
        let source = server != nil ? "--server" : "QUIVER_SERVER"
        for (flag, value, why) in [
            ("--database-url", local.databaseURL, "the server has its own database"),
            ("--blob-store", local.blobStore, "the server has its own blob store"),
            ("--actor", local.actor, "the server records the name of the token (QUIVER_TOKEN) as the actor"),
        ] where value != nil {
            throw OptionError("local_option_with_server", "\(flag) is a local-mode option, and \(source) selects remote mode: \(why)",
                              hint: "drop \(flag), or use the local registry (no --server, QUIVER_SERVER unset)")
        }
    }

    /// Local mode's settings (the demo's working directory lives under their home in both modes).
    var configuration: RegistryConfiguration { local.configuration }

    /// The registry to run the command against: a ``QuiverClient`` for the server (progress on standard error),
    /// or the local registry, opened (the embedded database started and the catalog migrated when needed).
    func service() throws -> any RegistryService {
        if let remoteServer {
            return QuiverClient(settings: try ClientSettings.resolve(server: remoteServer), progress: .standardError())
        }
        return try local.open()
    }

    /// Whether commands run against a server.
    var isRemote: Bool { remoteServer != nil }

    /// Refuses (a usage error, from a `validate()`) an option that needs the catalog itself, in remote mode.
    func requireLocal(_ option: String, why: String) throws {
        guard isRemote else { return }
        throw OptionError("local_only_option", "\(option) works on a local registry only: \(why)",
                          hint: "run it where the database is (without --server and QUIVER_SERVER)")
    }

    /// The local registry, for the few options that only work there (checked by ``requireLocal(_:why:)`` first).
    func localRegistry() throws -> Registry {
        try local.open()
    }
}
