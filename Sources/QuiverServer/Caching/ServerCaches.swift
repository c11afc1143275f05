import Hummingbird
import Logging
import Prometheus
import Registry

/// The server's two caches, both emptied by the catalog's change feed and by every write this server makes:
/// - ``responses``: the answers of read operations (a version, its lineage, an audit, aliases, evaluations, the
///   policy), with the adapter names a token must be allowed to read to see each;
/// - ``tokens``: authenticated tokens by the sha256 of their secret, so a request costs no catalog round trip for
///   its token (expiry is checked on every use; revocation anywhere empties the cache through the feed).
///
/// While the feed is down both are off, so a cached answer is never older than the last change the catalog
/// announced.
final class ServerCaches: Sendable {
    let feed: CatalogChangeFeed?
    let responses: GenerationCache<CachedResponse>
    let tokens: GenerationCache<TokenRecord>
    private let hits: Counter
    private let misses: Counter

    /// - Parameters:
    ///   - url: the catalog's database URL for the feed's own connection; nil with `enabled` false.
    ///   - maxBytes: bound on the cached responses' bytes (0 turns both caches off).
    init(url: String?, maxBytes: Int, metrics: ServerMetrics, logger: Logger) {
        let enabled = maxBytes > 0
        let live = LiveFlag()
        responses = GenerationCache(maxEntries: enabled ? 50_000 : 0, maxCost: maxBytes, isLive: { live.value })
        tokens = GenerationCache(maxEntries: enabled ? 10_000 : 0, maxCost: enabled ? 40_000 : 0, isLive: { live.value })
        hits = metrics.registry.makeCounter(
            descriptor: .init(namespace: "quiver", subsystem: "cache", metricName: "hits", unitName: "total",
                              helpText: "Read requests answered from the response cache."), labels: [])
        misses = metrics.registry.makeCounter(
            descriptor: .init(namespace: "quiver", subsystem: "cache", metricName: "misses", unitName: "total",
                              helpText: "Cacheable read requests answered from the catalog."), labels: [])
        if enabled {
            let responses = responses, tokens = tokens
            let feed = CatalogChangeFeed(url: url, live: live, logger: logger) { change in
                switch change {
                case .catalog: responses.invalidate()
                case .tokens: tokens.invalidate()
                case .everything:
                    responses.invalidate()
                    tokens.invalidate()
                }
            }
            self.feed = feed
        } else {
            self.feed = nil
        }
    }

    func start() { feed?.start() }
    func stop() { feed?.stop() }

    /// After a write made through this server: its effects are visible to the next read here at once, without
    /// waiting for the feed.
    func invalidateAfterWrite() {
        responses.invalidate()
        tokens.invalidate()
    }

    func noteHit() { hits.increment() }
    func noteMiss() { misses.increment() }
}

/// A read operation's answer, kept whole: status, headers and body, and the adapter names a token must be
/// allowed to read to be given it.
struct CachedResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: ByteBuffer
    let names: [String]

    var response: Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
