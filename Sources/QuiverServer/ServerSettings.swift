import Foundation
import Registry

/// How `quiver serve` runs: where it listens and its limits. Every value has a default suitable for a team server.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The largest blob `PUT /v1/blobs/{sha256}` accepts (413 above, before reading the body).
    public var maxBlobSize: Int64 = 8 << 30
    /// The largest JSON request body (413 above).
    public var maxJSONBody = 1 << 20
    /// Merges whose inputs' weights total less than this run within the request; larger ones become jobs.
    public var syncMergeLimit: Int64 = 256 << 20
    /// In-process job workers (0: none; queued jobs wait for a `quiver worker`).
    public var workers = 1
    /// The lease a worker takes on a job, renewed while it runs.
    public var leaseSeconds = 60
    /// How often an idle worker looks for a job.
    public var pollSeconds = 2.0
    /// Threads of the blocking executor, and connections of the catalog's pool.
    public var executorThreads = 8
    /// Requests that may wait for an executor thread before new ones get 503.
    public var maxWaiting = 64
    /// Threads for blob transfers (`GET`/`PUT /v1/blobs/{sha256}`) and merges run within their request, apart from the
    /// catalog's: a transfer that waits on S3 (a slow client, an S3 outage being retried) or a merge moving its inputs
    /// and result never holds a thread that catalog requests need.
    public var transferThreads = 8
    /// Bytes buffered between a client and the blob store during a transfer.
    public var transferBuffer = 1 << 20
    /// How long an upload's body may go without a byte before it is refused (408 `server.body_timeout`): S3's own
    /// limit, so a client that declared more than it sends does not hold a thread and a connection for long.
    public var bodyIdleTimeout: TimeInterval = 20
    /// Bytes of read answers (versions, lineage, audits, aliases, evaluations, policy) kept in memory between
    /// catalog changes; 0 turns the response and token caches off (every request then reads the catalog).
    public var readCacheBytes = 64 << 20

    /// Redirects of large downloads to presigned blob-store URLs (`GET /v1/blobs/{sha256}?redirect=true`).
    public var presign = Presign()

    public struct Presign: Sendable {
        /// Off unless asked for: the store must be reachable from clients at ``endpoint``.
        public var enabled = false
        /// The store's address as clients reach it (signed into the URL); nil: the address the server uses.
        public var endpoint: URL?
        /// Smaller blobs are streamed by the server (one round trip instead of two).
        public var minimumSize: Int64 = 1 << 20
        /// How long a presigned URL stays valid.
        public var expirySeconds = 300

        public init() {}
    }
    /// Webhook deliveries sent at once (0: this server delivers none; they wait in the outbox for one that does).
    public var hookConcurrency = 4
    /// The longest a webhook delivery may take, connection included.
    public var hookTimeoutSeconds = 10.0
    /// Attempts and backoff for failed webhook deliveries.
    public var hookRetry = HookRules.Retry()
    /// How often an idle delivery loop looks for due deliveries.
    public var hookPollSeconds = 1.0

    public init() {}
}
