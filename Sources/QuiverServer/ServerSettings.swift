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
    /// Bytes buffered between a client and the blob store during a transfer.
    public var transferBuffer = 1 << 20
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
