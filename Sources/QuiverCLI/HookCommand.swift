import ArgumentParser
import Foundation
import QuiverCore
import Registry

/// `quiver hook add|list|rm|deliveries`: webhooks told about alias moves and new versions, managed in the catalog
/// (local mode) or through a server (`--server`, with an admin token). Deliveries are sent by `quiver serve`.
public struct HookCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Webhooks on alias moves and new versions (sent by quiver serve, HMAC-signed).",
        subcommands: [Add.self, List.self, Remove.self, Deliveries.self])
    public init() {}

    /// Prints the new hook's secret alone on stdout (it is shown once).
    public struct Add: ParsableCommand, JSONOutputCommand {
        public static let configuration = CommandConfiguration(commandName: "add",
            abstract: "Add a webhook and print its signing secret (alone on stdout; shown once).",
            discussion: """
                Each delivery is a POST of a JSON body with X-Quiver-Event, X-Quiver-Delivery, X-Quiver-Timestamp and \
                X-Quiver-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>.
                """)
        @OptionGroup var options: RegistryOptions
        @Option(help: "Where to POST (http or https, at most 2048 characters).") var url: String
        @Option(help: "Comma-separated events: alias.moved, version.created (default both).") var events = "alias.moved,version.created"
        @Option(help: "Only adapters whose name matches this glob ('*' matches any run of characters).") var adapter: String?
        @Option(name: .customLong("secret-file"), help: "Read the signing secret from this file's first line (default: generate one).")
        var secretFile: String?
        @Flag(help: "Print the secret and the hook as JSON.") var json = false

        public init() {}

        public func validate() throws {
            try HookRules.validate(url: url)
            try HookRules.validate(events: try HookRules.events(events), adapterPattern: adapter, secret: nil)
        }

        public func run() throws {
            let secret = try secretFile.map { path -> String in
                let data = try RegularFile.read(path, limit: 4096)
                return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            if let secret { try HookRules.validate(events: [.aliasMoved], adapterPattern: nil, secret: secret) }
            let created = try options.service().createHook(url: url, events: try HookRules.events(events), adapterPattern: adapter, secret: secret)
            if json { return try printJSON(created) }
            print(created.secret)
            FileHandle.standardError.write(Data("hook \(created.hook.id) added: \(created.hook.summaryLine)\n".utf8))
        }
    }

    public struct List: ParsableCommand, JSONOutputCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "List the webhooks (never their secrets).")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Print JSON.") var json = false
        public init() {}

        public func run() throws {
            let hooks = try options.service().hooks()
            if json { return try printJSON(hooks) }
            if hooks.isEmpty { return print("no hooks") }
            for hook in hooks { print("\(hook.id)  \(hook.summaryLine)") }
        }
    }

    public struct Remove: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a webhook; its deliveries not sent yet are cancelled.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The hook's id (quiver hook list).") var id: Int64
        public init() {}

        public func validate() throws {
            guard id >= 1 else { throw OptionError("invalid_option", "hook ids start at 1, got \(id)") }
        }

        public func run() throws {
            try options.service().removeHook(id: id)
            print("removed hook \(id)")
        }
    }

    public struct Deliveries: ParsableCommand, JSONOutputCommand {
        public static let configuration = CommandConfiguration(commandName: "deliveries",
            abstract: "Show the newest deliveries (of one hook, or all) with every attempt: status, error, duration.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "Only this hook's deliveries.") var id: Int64?
        @Option(help: "At most this many deliveries, newest first.") var limit = 20
        @Flag(help: "Print JSON.") var json = false
        public init() {}

        public func validate() throws {
            if let id, id < 1 { throw OptionError("invalid_option", "hook ids start at 1, got \(id)") }
            guard (1...1000).contains(limit) else { throw OptionError("invalid_option", "--limit must be 1-1000, got \(limit)") }
        }

        public func run() throws {
            let deliveries = try options.service().hookDeliveries(hookID: id, limit: limit)
            if json { return try printJSON(deliveries) }
            if deliveries.isEmpty { return print("no deliveries") }
            for delivery in deliveries {
                var line = "\(delivery.id)  hook \(delivery.hookID)  \(delivery.event)  \(TerminalText.escape(delivery.subject))  \(delivery.status)"
                line += "  attempts=\(delivery.attempts)  delivery=\(delivery.deliveryID)"
                if let next = delivery.nextAttemptAt, delivery.status == .pending { line += "  next \(next.formatted(.iso8601))" }
                print(line)
                for attempt in delivery.log {
                    let outcome = attempt.httpStatus.map { "HTTP \($0)" } ?? "no answer"
                    let error = attempt.error.map { "  \(TerminalText.escape($0))" } ?? ""
                    print("    #\(attempt.attempt)  \(attempt.startedAt.formatted(.iso8601))  \(attempt.durationMs) ms  \(outcome)\(error)")
                }
            }
        }
    }
}

extension WebhookRecord {
    /// One line for listings: URL, events, adapters, who made it.
    var summaryLine: String {
        TerminalText.escape("\(url)  events=\(events.map(\.rawValue).joined(separator: ","))  adapters=\(adapterPattern ?? "*")  by \(createdBy)")
    }
}
