import Foundation

/// What a webhook can be told about.
public enum HookEvent: String, TextColumn, Comparable {
    /// An alias now points at another version (`quiver alias set`, `PUT …/aliases/{alias}`).
    case aliasMoved = "alias.moved"
    /// A version was recorded: registered, or the output of a merge.
    case versionCreated = "version.created"

    public static func < (a: HookEvent, b: HookEvent) -> Bool { a.rawValue < b.rawValue }
}

/// Where one delivery is: waiting (maybe for a retry), being sent, done, given up, or dropped with its hook.
public enum DeliveryStatus: String, TextColumn {
    case pending, delivering, delivered, failed, cancelled
}

/// A webhook as the catalog keeps it, without its secret (which only the delivery loop reads).
public struct WebhookRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let url: String
    public let events: [HookEvent]
    /// A glob over adapter names (`*` any run of characters); nil for every adapter.
    public let adapterPattern: String?
    public let createdBy: String
    public let createdAt: Date
    public let removedAt: Date?

    public init(id: Int64, url: String, events: [HookEvent], adapterPattern: String?, createdBy: String, createdAt: Date, removedAt: Date?) {
        self.id = id
        self.url = url
        self.events = events
        self.adapterPattern = adapterPattern
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.removedAt = removedAt
    }
}

/// One attempt to deliver: when, how long, and what came back (an HTTP status, or an error below HTTP).
public struct DeliveryAttempt: Sendable, Codable, Equatable {
    public let attempt: Int
    public let startedAt: Date
    public let durationMs: Int
    public let httpStatus: Int?
    public let error: String?

    public init(attempt: Int, startedAt: Date, durationMs: Int, httpStatus: Int?, error: String?) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.httpStatus = httpStatus
        self.error = error
    }
}

/// One event queued for one hook, with its attempts so far.
public struct HookDelivery: Sendable, Codable, Equatable {
    public let id: Int64
    public let hookID: Int64
    /// `X-Quiver-Delivery` (a lower-case UUID, as sent): the same on every attempt.
    public let deliveryID: String
    public let event: HookEvent
    /// `NAME@ALIAS` or `NAME@VERSION`.
    public let subject: String
    public let status: DeliveryStatus
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let lastHTTPStatus: Int?
    public let lastError: String?
    public let createdAt: Date
    public let finishedAt: Date?
    public let log: [DeliveryAttempt]

    public init(id: Int64, hookID: Int64, deliveryID: String, event: HookEvent, subject: String, status: DeliveryStatus, attempts: Int,
                nextAttemptAt: Date?, lastHTTPStatus: Int?, lastError: String?, createdAt: Date, finishedAt: Date?, log: [DeliveryAttempt]) {
        self.id = id
        self.hookID = hookID
        self.deliveryID = deliveryID
        self.event = event
        self.subject = subject
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastHTTPStatus = lastHTTPStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.log = log
    }

    enum CodingKeys: String, CodingKey {
        case id, hookID = "hookId", deliveryID = "deliveryId", event, subject, status, attempts, nextAttemptAt
        case lastHTTPStatus = "lastHttpStatus", lastError, createdAt, finishedAt, log
    }
}

/// A delivery claimed by a delivery loop: everything needed to send it, secret included. Never encoded.
public struct ClaimedDelivery: Sendable {
    public let id: Int64
    public let hookID: Int64
    public let deliveryID: UUID
    public let event: HookEvent
    public let url: String
    public let secret: String
    public let payload: String
    /// The attempt this claim is (1 for the first).
    public let attempt: Int
}

/// One delivery to queue: for this hook, this event, this body.
public struct NewDelivery: Sendable {
    public let hookID: Int64
    public let deliveryID: UUID
    public let event: HookEvent
    public let subject: String
    public let payload: String

    public init(hookID: Int64, deliveryID: UUID, event: HookEvent, subject: String, payload: String) {
        self.hookID = hookID
        self.deliveryID = deliveryID
        self.event = event
        self.subject = subject
        self.payload = payload
    }
}
