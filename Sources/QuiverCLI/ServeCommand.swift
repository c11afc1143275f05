import ArgumentParser
import Dispatch
import Foundation
import Logging
import ObjectStore
import QuiverCore
import QuiverServer
import Registry
import Synchronization

/// `quiver serve`: the HTTP API on the same registry as every other command (the same flags, variables and
/// defaults), until SIGTERM or SIGINT.
public struct ServeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the registry over HTTP (API tokens: quiver token create).",
        discussion: "The OpenAPI document is at /openapi.json; /healthz, /readyz and /metrics need no token.")

    @OptionGroup var options: LocalRegistryOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(name: .customLong("max-blob-size"), help: "Largest blob upload accepted (413 above), e.g. 8GiB.") var maxBlobSize = "8GiB"
    @Option(name: .customLong("sync-merge-limit"), help: "Merges whose inputs' weights total less run within the request; larger ones are queued as jobs.")
    var syncMergeLimit = "256MiB"
    @Option(help: "In-process job workers (0: leave jobs to 'quiver worker').") var workers = 1
    @Option(help: "Threads for database and blob-store calls (and database connections).") var threads = 8
    @Option(name: .customLong("max-waiting"), help: "Requests that may wait for a thread before new ones get 503 + Retry-After.") var maxWaiting = 64
    @Option(help: "Lease per job claim (e.g. 60s).") var lease = "60s"
    @Option(name: .customLong("read-cache"), help: "Memory for answers to reads (versions, lineage, audits, aliases), emptied whenever the catalog announces a change; 0 turns caching off.")
    var readCache = "64MiB"
    @Flag(name: .customLong("presign-downloads"), help: "Answer large blob downloads that allow it (?redirect=true; the CLI does) with a redirect to a presigned S3 URL, so the bytes do not pass through the server.")
    var presignDownloads = false
    @Option(name: .customLong("presign-endpoint"), help: "The S3 endpoint as clients reach it, signed into presigned URLs (default: the server's own).")
    var presignEndpoint: String?
    @Option(name: .customLong("presign-min-size"), help: "Blobs smaller than this are streamed by the server even when presigning.")
    var presignMinSize = "1MiB"
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    public init() {}

    public func validate() throws {
        guard !host.isEmpty, host.count <= 255 else { throw OptionError("invalid_option", "--host is empty or too long") }
        guard (0...65_535).contains(port) else { throw OptionError("invalid_option", "--port must be 0-65535, got \(port)") }
        guard try OptionParsing.bytes(maxBlobSize, option: "max-blob-size") >= 1 else { throw OptionError("invalid_option", "--max-blob-size must be at least 1 byte") }
        _ = try OptionParsing.bytes(syncMergeLimit, option: "sync-merge-limit")
        guard (0...64).contains(workers) else { throw OptionError("invalid_option", "--workers must be 0-64, got \(workers)") }
        guard (1...256).contains(threads) else { throw OptionError("invalid_option", "--threads must be 1-256, got \(threads)") }
        guard (0...100_000).contains(maxWaiting) else { throw OptionError("invalid_option", "--max-waiting must be 0-100000, got \(maxWaiting)") }
        guard (0...(16 << 30)).contains(try OptionParsing.bytes(readCache, option: "read-cache")) else {
            throw OptionError("invalid_option", "--read-cache must be 0-16GiB, got \(readCache)")
        }
        _ = try OptionParsing.bytes(presignMinSize, option: "presign-min-size")
        if let presignEndpoint { _ = try Self.endpoint(presignEndpoint) }
        let leaseSeconds = try OptionParsing.seconds(lease)
        guard (1...86_400).contains(leaseSeconds) else { throw OptionError("invalid_option", "--lease must be 1s-1d, got \(lease)") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw OptionError("invalid_option", "--log-level '\(logLevel)' is not a level", hint: "trace, debug, info, notice, warning, error or critical")
        }
    }

    public func run() throws {
        var settings = ServerSettings()
        settings.host = host
        settings.port = port
        settings.maxBlobSize = try OptionParsing.bytes(maxBlobSize, option: "max-blob-size")
        settings.syncMergeLimit = try OptionParsing.bytes(syncMergeLimit, option: "sync-merge-limit")
        settings.workers = workers
        settings.executorThreads = threads
        settings.maxWaiting = maxWaiting
        settings.readCacheBytes = Int(try OptionParsing.bytes(readCache, option: "read-cache"))
        settings.presign.enabled = presignDownloads
        settings.presign.endpoint = try presignEndpoint.map(Self.endpoint)
        settings.presign.minimumSize = try OptionParsing.bytes(presignMinSize, option: "presign-min-size")
        settings.leaseSeconds = Int(try OptionParsing.seconds(lease))
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // Connections: one per request thread, and two per worker (the merge and its lease renewal).
        let registry = try options.open(maxConnections: threads + 2 * workers)
        let redaction = SecretRedaction(environment: ProcessInfo.processInfo.environment, arguments: CommandLine.arguments)
        let logger = Logger(label: "quiver.serve")
        let fixed = settings
        try Self.runBlocking { try await QuiverServer.run(registry: registry, settings: fixed, redaction: redaction, logger: logger) }
    }

    /// Runs `body` on the concurrency pool and blocks this (the main) thread until it ends: the CLI's commands are
    /// synchronous and exit through `QuiverProgram`, so the server's outcome does too.
    static func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let result: Result<Void, any Error>
            do {
                try await body()
                result = .success(())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }?.get()
    }

    /// `--presign-endpoint`: an http(s) URL reduced to scheme, host and port.
    static func endpoint(_ text: String) throws -> URL {
        do {
            return try S3Settings.parse(endpoint: text, variable: "--presign-endpoint")
        } catch {
            throw OptionError("invalid_option", "--presign-endpoint '\(text.prefix(200))' is not an http(s) URL", hint: "e.g. https://s3.example.com")
        }
    }
}
