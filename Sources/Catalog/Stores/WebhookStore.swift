import Foundation
import Postgres

/// Webhooks, their outbox of deliveries and the log of delivery attempts.
///
/// Deliveries are inserted in the transaction of the change they announce (``enqueue(_:)``), claimed by delivery
/// loops with `FOR UPDATE SKIP LOCKED` and a lease (a loop that dies mid-send leaves a claim that expires and is
/// taken again: delivery is at least once), and finished by ``finish(id:owner:attempt:outcome:now:)``. Times come
/// from the caller's clock, as for merge jobs.
public struct WebhookStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    private static let hookColumns = "id, url, events, adapter_pattern, created_by, created_at, removed_at"

    private static func decodeHook(_ row: PostgresRow) throws -> WebhookRecord {
        WebhookRecord(
            id: try row.decode(Int64.self, at: 0), url: try row.decode(String.self, at: 1),
            events: try row.decode([String].self, at: 2).map { text in
                guard let event = HookEvent(rawValue: text) else {
                    throw PostgresError(.decoding, message: "column \"events\" holds '\(text)', not one of \(HookEvent.allCases.map(\.rawValue))")
                }
                return event
            },
            adapterPattern: try row.decode(String?.self, at: 3), createdBy: try row.decode(String.self, at: 4),
            createdAt: try row.decode(Date.self, at: 5), removedAt: try row.decode(Date?.self, at: 6))
    }

    // MARK: - Hooks

    /// Records a hook with its secret.
    public func create(url: String, events: [HookEvent], adapterPattern: String?, secret: String, by actor: String) throws -> WebhookRecord {
        try Self.decodeHook(connection.query("""
            INSERT INTO webhooks (url, events, adapter_pattern, secret, created_by)
            VALUES (\(url), \(events.map(\.rawValue)), \(adapterPattern), \(secret), \(actor))
            RETURNING \(unsafeRaw: Self.hookColumns)
            """).single())
    }

    /// Hooks not removed, by id.
    public func active() throws -> [WebhookRecord] {
        try connection.query("SELECT \(unsafeRaw: Self.hookColumns) FROM webhooks WHERE removed_at IS NULL ORDER BY id").map(Self.decodeHook)
    }

    /// A hook by id, removed or not.
    public func hook(id: Int64) throws -> WebhookRecord? {
        try connection.query("SELECT \(unsafeRaw: Self.hookColumns) FROM webhooks WHERE id = \(id)").first.map(Self.decodeHook)
    }

    /// Marks the hook removed and cancels its deliveries that were not sent yet; false when there is no such
    /// active hook.
    public func remove(id: Int64, now: Date) throws -> Bool {
        guard try connection.query("UPDATE webhooks SET removed_at = \(now) WHERE id = \(id) AND removed_at IS NULL").affectedRows == 1 else {
            return false
        }
        try connection.query("""
            UPDATE webhook_deliveries SET status = \(DeliveryStatus.cancelled), finished_at = \(now), lease_owner = NULL,
                lease_expires_at = NULL, last_error = coalesce(last_error || '; ', '') || 'hook removed'
            WHERE hook_id = \(id) AND status IN (\(DeliveryStatus.pending), \(DeliveryStatus.delivering))
            """)
        return true
    }

    // MARK: - The outbox

    /// Queues deliveries (call inside the transaction of the change they announce), due at once.
    public func enqueue(_ deliveries: [NewDelivery]) throws {
        for delivery in deliveries {
            try connection.query("""
                INSERT INTO webhook_deliveries (hook_id, delivery_uuid, event, subject, payload)
                VALUES (\(delivery.hookID), \(delivery.deliveryID), \(delivery.event), \(delivery.subject), \(delivery.payload))
                """)
        }
    }

    /// Claims up to `limit` deliveries that are due at `now` — pending with `next_attempt_at` passed, or being
    /// delivered under a lease that expired (its loop died) — for `owner` until `now + leaseSeconds`, counting the
    /// attempt. Deliveries of removed hooks are never claimed.
    public func claim(owner: String, limit: Int, leaseSeconds: Double, now: Date) throws -> [ClaimedDelivery] {
        try connection.query("""
            UPDATE webhook_deliveries d SET status = \(DeliveryStatus.delivering), attempts = d.attempts + 1, lease_owner = \(owner),
                lease_expires_at = \(now) + make_interval(secs => \(leaseSeconds))
            FROM webhooks h
            WHERE h.id = d.hook_id AND d.id IN (
                SELECT dd.id FROM webhook_deliveries dd JOIN webhooks hh ON hh.id = dd.hook_id
                WHERE hh.removed_at IS NULL AND (
                    (dd.status = \(DeliveryStatus.pending) AND dd.next_attempt_at <= \(now))
                    OR (dd.status = \(DeliveryStatus.delivering) AND dd.lease_expires_at < \(now)))
                ORDER BY dd.next_attempt_at, dd.id
                FOR UPDATE OF dd SKIP LOCKED LIMIT \(max(1, limit)))
            RETURNING d.id, d.hook_id, d.delivery_uuid, d.event, h.url, h.secret, d.payload, d.attempts
            """).map {
            ClaimedDelivery(
                id: try $0.decode(Int64.self, at: 0), hookID: try $0.decode(Int64.self, at: 1), deliveryID: try $0.decode(UUID.self, at: 2),
                event: try $0.decode(HookEvent.self, at: 3), url: try $0.decode(String.self, at: 4), secret: try $0.decode(String.self, at: 5),
                payload: try $0.decode(String.self, at: 6), attempt: try $0.decode(Int.self, at: 7))
        }
    }

    /// How one attempt ended, and what comes next.
    public enum Next: Sendable, Equatable {
        case delivered
        case retry(at: Date)
        case failed
    }

    /// Records attempt `attempt` of a delivery `owner` still holds (logged whatever happens), and moves the
    /// delivery on: delivered, pending again until `retry(at:)`, or failed. Returns false when the claim was lost
    /// (the lease expired and another loop took it over, or the hook was removed): then only the log row is kept.
    @discardableResult
    public func finish(id: Int64, owner: String, attempt: DeliveryAttempt, next: Next) throws -> Bool {
        try connection.query("""
            INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, http_status, error)
            VALUES (\(id), \(attempt.attempt), \(attempt.startedAt), \(attempt.durationMs), \(attempt.httpStatus), \(attempt.error))
            ON CONFLICT (delivery_id, attempt) DO NOTHING
            """)
        let status: DeliveryStatus, retryAt: Date?
        switch next {
        case .delivered: (status, retryAt) = (.delivered, nil)
        case .retry(let at): (status, retryAt) = (.pending, at)
        case .failed: (status, retryAt) = (.failed, nil)
        }
        let finished = status == .pending ? nil : attempt.startedAt.addingTimeInterval(Double(attempt.durationMs) / 1000)
        return try connection.query("""
            UPDATE webhook_deliveries SET status = \(status), next_attempt_at = coalesce(\(retryAt)::timestamptz, next_attempt_at),
                lease_owner = NULL, lease_expires_at = NULL, last_http_status = \(attempt.httpStatus), last_error = \(attempt.error),
                finished_at = \(finished)
            WHERE id = \(id) AND lease_owner = \(owner) AND status = \(DeliveryStatus.delivering)
            """).affectedRows == 1
    }

    /// Hands a claimed delivery back without counting the attempt (a loop shutting down before it sent it).
    public func release(id: Int64, owner: String) throws {
        try connection.query("""
            UPDATE webhook_deliveries SET status = \(DeliveryStatus.pending), attempts = greatest(attempts - 1, 0), lease_owner = NULL,
                lease_expires_at = NULL
            WHERE id = \(id) AND lease_owner = \(owner) AND status = \(DeliveryStatus.delivering)
            """)
    }

    // MARK: - The log

    /// The newest deliveries (of one hook, or of all), newest first, each with its attempts.
    public func deliveries(hookID: Int64?, limit: Int) throws -> [HookDelivery] {
        let rows = try connection.query("""
            SELECT id, hook_id, delivery_uuid, event, subject, status, attempts, next_attempt_at, last_http_status, last_error,
                created_at, finished_at
            FROM webhook_deliveries WHERE \(hookID)::bigint IS NULL OR hook_id = \(hookID)::bigint
            ORDER BY id DESC LIMIT \(max(1, min(limit, 10_000)))
            """)
        let ids = try rows.map { Int(try $0.decode(Int64.self, at: 0)) }
        var attempts: [Int64: [DeliveryAttempt]] = [:]
        for row in try connection.query("""
            SELECT delivery_id, attempt, started_at, duration_ms, http_status, error FROM webhook_attempts
            WHERE delivery_id = ANY(\(ids)) ORDER BY delivery_id, attempt
            """) {
            attempts[try row.decode(Int64.self, at: 0), default: []].append(DeliveryAttempt(
                attempt: try row.decode(Int.self, at: 1), startedAt: try row.decode(Date.self, at: 2),
                durationMs: try row.decode(Int.self, at: 3), httpStatus: try row.decode(Int?.self, at: 4), error: try row.decode(String?.self, at: 5)))
        }
        return try rows.map { row in
            let id = try row.decode(Int64.self, at: 0)
            let status = try row.decode(DeliveryStatus.self, at: 5)
            return HookDelivery(
                id: id, hookID: try row.decode(Int64.self, at: 1), deliveryID: try row.decode(UUID.self, at: 2).uuidString.lowercased(),
                event: try row.decode(HookEvent.self, at: 3), subject: try row.decode(String.self, at: 4), status: status,
                attempts: try row.decode(Int.self, at: 6),
                nextAttemptAt: status == .pending || status == .delivering ? try row.decode(Date.self, at: 7) : nil,
                lastHTTPStatus: try row.decode(Int?.self, at: 8), lastError: try row.decode(String?.self, at: 9),
                createdAt: try row.decode(Date.self, at: 10), finishedAt: try row.decode(Date?.self, at: 11), log: attempts[id] ?? [])
        }
    }
}
