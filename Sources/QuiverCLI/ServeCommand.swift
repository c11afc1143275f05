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
    @Option(help: "Threads for catalog calls (and database connections).") var threads = 8
    @Option(name: .customLong("transfer-threads"), help: "Threads for blob uploads and downloads and for merges run within their request, apart from the catalog's (a transfer waiting on S3 never holds a thread catalog requests need).") var transferThreads = 8
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
    @Option(name: .customLong("hook-timeout"), help: "The longest one webhook delivery may take (e.g. 10s).") var hookTimeout = "10s"
    @Option(name: .customLong("hook-attempts"), help: "Attempts per webhook delivery before it is marked failed.") var hookAttempts = 8
    @Option(name: .customLong("hook-backoff"), help: "The wait after a delivery's first failure; each later wait doubles it (e.g. 2s).") var hookBackoff = "2s"
    @Option(name: .customLong("hook-backoff-max"), help: "The longest wait between two attempts of a delivery (e.g. 10m).") var hookBackoffMax = "10m"
    @Option(name: .customLong("hook-concurrency"), help: "Webhook deliveries sent at once (0: deliver none here).") var hookConcurrency = 4
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    public init() {}

    public func validate() throws {
        guard !host.isEmpty, host.count <= 255 else { throw OptionError("invalid_option", "--host is empty or too long") }
        guard (0...65_535).contains(port) else { throw OptionError("invalid_option", "--port must be 0-65535, got \(port)") }
        guard try OptionParsing.bytes(maxBlobSize, option: "max-blob-size") >= 1 else { throw OptionError("invalid_option", "--max-blob-size must be at least 1 byte") }
        _ = try OptionParsing.bytes(syncMergeLimit, option: "sync-merge-limit")
        guard (0...64).contains(workers) else { throw OptionError("invalid_option", "--workers must be 0-64, got \(workers)") }
        guard (1...256).contains(threads) else { throw OptionError("invalid_option", "--threads must be 1-256, got \(threads)") }
        guard (1...256).contains(transferThreads) else { throw OptionError("invalid_option", "--transfer-threads must be 1-256, got \(transferThreads)") }
        guard (0...100_000).contains(maxWaiting) else { throw OptionError("invalid_option", "--max-waiting must be 0-100000, got \(maxWaiting)") }
        guard (0...(16 << 30)).contains(try OptionParsing.bytes(readCache, option: "read-cache")) else {
            throw OptionError("invalid_option", "--read-cache must be 0-16GiB, got \(readCache)")
        }
        _ = try OptionParsing.bytes(presignMinSize, option: "presign-min-size")
        if let presignEndpoint { _ = try Self.endpoint(presignEndpoint) }
        let leaseSeconds = try OptionParsing.seconds(lease)
        guard (1...86_400).contains(leaseSeconds) else { throw OptionError("invalid_option", "--lease must be 1s-1d, got \(lease)") }
        guard (1...300).contains(try OptionParsing.seconds(hookTimeout)) else { throw OptionError("invalid_option", "--hook-timeout must be 1s-5m, got \(hookTimeout)") }
        guard (1...100).contains(hookAttempts) else { throw OptionError("invalid_option", "--hook-attempts must be 1-100, got \(hookAttempts)") }
        let backoff = try OptionParsing.seconds(hookBackoff), backoffMax = try OptionParsing.seconds(hookBackoffMax)
        guard (1...86_400).contains(backoff), (backoff...86_400).contains(backoffMax) else {
            throw OptionError("invalid_option", "--hook-backoff must be 1s-1d and --hook-backoff-max at least --hook-backoff and at most 1d")
        }
        guard (0...64).contains(hookConcurrency) else { throw OptionError("invalid_option", "--hook-concurrency must be 0-64, got \(hookConcurrency)") }
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
        settings.transferThreads = transferThreads
        settings.maxWaiting = maxWaiting
        settings.readCacheBytes = Int(try OptionParsing.bytes(readCache, option: "read-cache"))
        settings.presign.enabled = presignDownloads
        settings.presign.endpoint = try presignEndpoint.map(Self.endpoint)
        settings.presign.minimumSize = try OptionParsing.bytes(presignMinSize, option: "presign-min-size")
        settings.leaseSeconds = Int(try OptionParsing.seconds(lease))
        settings.hookTimeoutSeconds = Double(try OptionParsing.seconds(hookTimeout))
        settings.hookRetry = HookRules.Retry(
            maxAttempts: hookAttempts, baseDelay: Double(try OptionParsing.seconds(hookBackoff)), maxDelay: Double(try OptionParsing.seconds(hookBackoffMax)))
        settings.hookConcurrency = hookConcurrency
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // Connections: one per request thread, two per worker (the merge and its lease renewal), and two for the
        // webhook delivery loop (claims and records are short; more sends than that wait briefly for one).
        let registry = try options.open(maxConnections: threads + 2 * workers + min(hookConcurrency, 2))
        // The signing key is loaded (the default generated) now, so a misconfigured QUIVER_SIGNING_KEY stops the
        // server at start instead of failing every attestation later.
        do {
            _ = try registry.signingPublicKey()
        } catch {
            registry.pool.close()
            throw error
        }
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
