import Foundation
import Logging
import Postgres
import Synchronization

/// Listens to the catalog's change notifications (`LISTEN quiver_catalog`, sent by migration 0005's triggers
/// when a transaction that changed what readers see commits) on a connection and a thread of its own, and tells
/// the server's caches.
///
/// The caches are only as good as this feed, so it is conservative: until it listens, and from the moment its
/// connection fails until it listens again, ``isLive`` is false and the caches keep nothing; each (re)connection
/// starts by flushing them, since a change may have been missed while it was away.
final class CatalogChangeFeed: Sendable {
    enum Change: Sendable, Equatable {
        /// Versions, merges, lineage, aliases, evaluations or policy.
        case catalog
        /// A token was created, revoked, rescoped or deleted.
        case tokens
        /// Anything may have changed: the feed (re)connected or lost its connection.
        case everything
    }

    static let channel = "quiver_catalog"

    private let url: String?
    private let logger: Logger
    private let onChange: @Sendable (Change) -> Void
    private let live: LiveFlag
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - url: the catalog's database URL (the pool's), nil for the PG* variables.
    ///   - onChange: called on the feed's thread, in order, for every change (keep it short).
    init(url: String?, live: LiveFlag, logger: Logger, onChange: @escaping @Sendable (Change) -> Void) {
        self.url = url
        self.live = live
        self.logger = logger
        self.onChange = onChange
    }

    /// Whether the feed listens now, so that a change committed from here on reaches `onChange`.
    var isLive: Bool { live.value }

    /// Starts listening on a thread of its own (libpq blocks; never on a cooperative thread or an event loop).
    func start() {
        let thread = Thread { [self] in
            listen()
            stopped.signal()
        }
        thread.name = "quiver-catalog-feed"
        thread.start()
    }

    /// Stops listening and waits (briefly) for the thread to end.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = stopped.wait(timeout: .now() + 2)
    }

    private func listen() {
        var backoff = 0.1
        var warned = false
        while !stopping.load(ordering: .acquiring) {
            do {
                let connection = try PostgresConnection(url: url, connectTimeout: 5, applicationName: "quiver-serve-feed")
                defer { connection.close() }
                _ = try connection.executeScript("LISTEN quiver_catalog")
                onChange(.everything)
                live.set(true)
                if warned { logger.notice("catalog change feed listening again; caches on") }
                warned = false
                backoff = 0.1
                while !stopping.load(ordering: .acquiring) {
                    let arrived = try connection.notifications(waitingUpTo: .milliseconds(250))
                    var catalog = false, tokens = false
                    for notification in arrived where notification.channel == Self.channel {
                        if notification.payload == "tokens" { tokens = true } else { catalog = true }
                    }
                    if catalog { onChange(.catalog) }
                    if tokens { onChange(.tokens) }
                }
                live.set(false)
            } catch {
                let wasLive = live.exchange(false)
                onChange(.everything)
                if wasLive || !warned {
                    logger.warning("catalog change feed lost; caches off until it listens again", metadata: ["error": "\(error)"])
                    warned = true
                }
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
        live.set(false)
    }
}

/// Whether a ``CatalogChangeFeed`` listens now; shared with the caches that depend on it.
final class LiveFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var value: Bool { flag.load(ordering: .acquiring) }
    func set(_ value: Bool) { flag.store(value, ordering: .releasing) }
    func exchange(_ value: Bool) -> Bool { flag.exchange(value, ordering: .acquiringAndReleasing) }
}
