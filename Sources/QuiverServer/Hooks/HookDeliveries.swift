import Foundation
import Logging
import ObjectStore
import QuiverCore
import Registry
import ServiceLifecycle

/// The server's webhook delivery loop: it claims due deliveries from the catalog's outbox (`FOR UPDATE SKIP
/// LOCKED`, leased, so several servers share one outbox and a server that dies mid-send loses nothing), POSTs each
/// to its hook's URL — signed (``WebhookSignature``), with a total timeout, never following a redirect — records
/// the attempt, and schedules a retry with exponential backoff (``HookRules/Retry``) until the attempts run out.
///
/// libcurl and libpq block, so every send and every catalog call runs on this loop's own ``BlockingExecutor``: a
/// receiver that hangs or never answers costs the loop a thread for at most the timeout and never touches the
/// threads requests run on. On graceful shutdown the loop stops claiming and lets the sends in flight end (each
/// bounded by the timeout).
struct HookDeliveries: Service {
    let registry: Registry
    let concurrency: Int
    let timeoutSeconds: Double
    let retry: HookRules.Retry
    let pollSeconds: Double
    let metrics: ServerMetrics
    let logger: Logger
    private let executor: BlockingExecutor
    private let handles: CurlHandlePool
    private let owner: String

    init(registry: Registry, settings: ServerSettings, metrics: ServerMetrics, logger: Logger) {
        self.registry = registry
        self.concurrency = settings.hookConcurrency
        self.timeoutSeconds = settings.hookTimeoutSeconds
        self.retry = settings.hookRetry
        self.pollSeconds = settings.hookPollSeconds
        self.metrics = metrics
        self.logger = logger
        self.executor = BlockingExecutor(maxThreads: max(1, settings.hookConcurrency), name: "quiver-hooks")
        self.handles = CurlHandlePool(limit: max(1, settings.hookConcurrency))
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):hooks"
    }

    func run() async throws {
        guard concurrency > 0 else { return try await gracefulShutdown() }
        // The lease outlives the send's timeout, so a claim is only taken over from a loop that died.
        let lease = timeoutSeconds + 30
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let claimed: [ClaimedDelivery]
            do {
                claimed = try await executor.run { [registry, owner, concurrency] in
                    try registry.claimDeliveries(owner: owner, limit: concurrency, leaseSeconds: lease)
                }
            } catch {
                logger.warning("hook deliveries could not be claimed", metadata: ["error": "\(error)"])
                claimed = []
            }
            if claimed.isEmpty {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pollSeconds)) }
                continue
            }
            await withDiscardingTaskGroup { group in
                for delivery in claimed { group.addTask { await deliver(delivery) } }
            }
        }
        executor.shutdown()
    }

    /// Sends one claimed delivery and records the attempt.
    private func deliver(_ delivery: ClaimedDelivery) async {
        let (registry, owner, retry, handles, timeout) = (registry, owner, retry, handles, timeoutSeconds)
        do {
            let attempt = try await executor.run {
                let attempt = Self.send(delivery, handles: handles, timeout: timeout, now: registry.clock.now())
                try registry.finishDelivery(delivery, owner: owner, attempt: attempt, retry: retry)
                return attempt
            }
            let metadata: Logger.Metadata = [
                "hook": "\(delivery.hookID)", "delivery": "\(delivery.deliveryID.uuidString.lowercased())", "event": "\(delivery.event)",
                "attempt": "\(attempt.attempt)", "status": "\(attempt.httpStatus.map(String.init) ?? "-")", "ms": "\(attempt.durationMs)",
            ]
            let delivered = attempt.httpStatus.map { (200..<300).contains($0) } ?? false
            let final = retry.delay(afterAttempt: attempt.attempt) == nil
            metrics.hookAttempt(event: delivery.event.rawValue, outcome: delivered ? "delivered" : final ? "failed" : "retry",
                                duration: .milliseconds(attempt.durationMs))
            if delivered {
                logger.info("hook delivered", metadata: metadata)
            } else {
                logger.warning("hook delivery failed", metadata: metadata.merging([
                    "error": "\(attempt.error ?? "")", "final": "\(final)",
                ]) { $1 })
            }
        } catch {
            logger.error("hook delivery could not be recorded", metadata: ["hook": "\(delivery.hookID)", "error": "\(error)"])
        }
    }

    /// One POST of the delivery's body, signed at `now`; blocks (libcurl) for at most `timeout` seconds.
    static func send(_ delivery: ClaimedDelivery, handles: CurlHandlePool, timeout: Double, now: Date) -> DeliveryAttempt {
        let body = Data(delivery.payload.utf8)
        let timestamp = Int64(now.timeIntervalSince1970.rounded(.down))
        let headers: [(String, String)] = [
            ("Content-Type", "application/json"),
            ("User-Agent", "quiver/\(QuiverVersion.current)"),
            ("X-Quiver-Event", delivery.event.rawValue),
            ("X-Quiver-Delivery", delivery.deliveryID.uuidString.lowercased()),
            ("X-Quiver-Timestamp", String(timestamp)),
            ("X-Quiver-Signature", WebhookSignature.header(secret: delivery.secret, timestamp: timestamp, body: body)),
        ]
        let request = HTTPRequest(method: "POST", url: delivery.url, headers: headers, body: .data(body))
        let options = HTTPTransfer.Options(connectTimeout: min(timeout, 5), stallTimeout: 0, totalTimeout: timeout)
        let started = ContinuousClock.now
        var status: Int?, error: String?
        switch Result(catching: { try handles.perform(request, options: options) }).flatMap({ $0.mapError { $0 as any Error } }) {
        case .success(let response):
            status = response.status
            if !(200..<300).contains(response.status) {
                let excerpt = TerminalText.escape(String(decoding: response.body.prefix(200), as: UTF8.self))
                error = "HTTP \(response.status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
            }
        case .failure(let failure as TransportFailure):
            error = failure.timedOut ? "timed out after \(NumberFormat.fixed(timeout, 1)) s: \(failure.message)" : failure.message
        case .failure(let failure):
            error = "\(failure)"
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Int(elapsed.components.seconds * 1000) + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
        return DeliveryAttempt(attempt: delivery.attempt, startedAt: now, durationMs: max(0, milliseconds), httpStatus: status,
                               error: error.map { String($0.prefix(500)) })
    }
}
