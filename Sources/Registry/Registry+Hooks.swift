import Foundation
import Postgres
import QuiverCore

/// A hook as `hook add` returns it: the secret, shown once, and its catalog record.
public struct CreatedHook: Sendable, Codable {
    public let secret: String
    public let hook: WebhookRecord

    public init(secret: String, hook: WebhookRecord) {
        self.secret = secret
        self.hook = hook
    }
}

extension Registry {
    /// The prefix of every generated hook secret (so secret scanners can recognise one).
    public static let hookSecretPrefix = "qwh_"

    /// Creates a webhook for `events` about adapters matching `adapterPattern` (nil: all). Without a `secret` one is
    /// generated (256 random bits). The secret is in the answer once, never listed, logged or audited. Audited.
    public func createHook(url: String, events: [HookEvent], adapterPattern: String?, secret: String?) throws -> CreatedHook {
        try HookRules.validate(url: url)
        try HookRules.validate(events: events, adapterPattern: adapterPattern, secret: secret)
        let key = secret ?? Self.hookSecretPrefix + Self.randomToken()
        return try catalog.transaction(attempts: 1) { tx in
            let hook = try tx.webhooks.create(url: url, events: Array(Set(events)).sorted(), adapterPattern: adapterPattern, secret: key, by: actor)
            try audit(tx, action: "hook.create", subject: "hook:\(hook.id)", details: [
                "url": url, "events": hook.events.map(\.rawValue).joined(separator: ","), "adapters": adapterPattern ?? "*",
            ])
            return CreatedHook(secret: key, hook: hook)
        }
    }

    /// Active hooks, by id (never a secret).
    public func hooks() throws -> [WebhookRecord] {
        try catalog.read { try $0.webhooks.active() }
    }

    /// Removes a hook: nothing more is queued for it, and its deliveries not sent yet are cancelled. Audited.
    public func removeHook(id: Int64) throws {
        let now = clock.now()
        try catalog.transaction { tx in
            guard try tx.webhooks.remove(id: id, now: now) else {
                throw RegistryError(.notFound, code: "hook.not_found", reason: "there is no active hook \(id)", hint: "'quiver hook list' shows the hooks")
            }
            try audit(tx, action: "hook.remove", subject: "hook:\(id)")
        }
    }

    /// The newest deliveries, of one hook (`not_found` if it never existed) or of all, each with its attempts.
    public func hookDeliveries(hookID: Int64?, limit: Int) throws -> [HookDelivery] {
        try catalog.read { session in
            if let hookID, try session.webhooks.hook(id: hookID) == nil {
                throw RegistryError(.notFound, code: "hook.not_found", reason: "there is no hook \(hookID)", hint: "'quiver hook list' shows the hooks")
            }
            return try session.webhooks.deliveries(hookID: hookID, limit: limit)
        }
    }

    // MARK: - Delivery (quiver serve's loop)

    /// Claims up to `limit` due deliveries for `owner`, leased for `leaseSeconds` (the send's timeout and a margin).
    public func claimDeliveries(owner: String, limit: Int, leaseSeconds: Double) throws -> [ClaimedDelivery] {
        let now = clock.now()
        return try catalog.transaction { try $0.webhooks.claim(owner: owner, limit: limit, leaseSeconds: leaseSeconds, now: now) }
    }

    /// Records how an attempt ended and what follows it (``HookRules/Retry``); false when the claim was lost.
    @discardableResult
    public func finishDelivery(_ delivery: ClaimedDelivery, owner: String, attempt: DeliveryAttempt, retry: HookRules.Retry) throws -> Bool {
        let finished = attempt.startedAt.addingTimeInterval(Double(attempt.durationMs) / 1000)
        let next = retry.next(afterAttempt: attempt.attempt, httpStatus: attempt.httpStatus, finished: max(finished, clock.now()))
        return try catalog.transaction { try $0.webhooks.finish(id: delivery.id, owner: owner, attempt: attempt, next: next) }
    }

    /// Hands a claimed delivery back unsent (shutdown), without counting the attempt.
    public func releaseDelivery(_ delivery: ClaimedDelivery, owner: String) throws {
        try catalog.read { try $0.webhooks.release(id: delivery.id, owner: owner) }
    }

    // MARK: - The outbox

    /// Queues `event` for every active hook that wants it, inside the transaction of the change it announces.
    func announce(_ tx: CatalogSession, _ event: HookEvent, adapter: String, subject: String, payload: (UUID) -> HookPayload) throws {
        let deliveries = try tx.webhooks.active().filter { HookRules.matches($0, event: event, adapter: adapter) }.map { hook in
            let id = UUID()
            return NewDelivery(hookID: hook.id, deliveryID: id, event: event, subject: subject, payload: try payload(id).json())
        }
        guard !deliveries.isEmpty else { return }
        try tx.webhooks.enqueue(deliveries)
    }

    /// Announces a new version (registered or merged).
    func announceVersion(_ tx: CatalogSession, _ version: AdapterVersion) throws {
        let now = clock.now()
        try announce(tx, .versionCreated, adapter: version.name, subject: version.label) { id in
            HookPayload(
                event: .versionCreated, delivery: id, occurredAt: now, adapter: version.name, ref: version.label, version: version.version,
                kind: version.kind.rawValue, canonicalDigest: version.canonicalDigest.hex, configDigest: version.configDigest.hex,
                weightsDigest: version.weightsDigest.hex, baseModel: version.baseModel, rank: version.rank, actor: actor)
        }
    }

    /// Announces an alias that moved from `previous` (nil: a new alias) to `version`.
    func announceAlias(_ tx: CatalogSession, alias: String, version: AdapterVersion, previous: AdapterVersion?, forced: Bool) throws {
        let now = clock.now()
        try announce(tx, .aliasMoved, adapter: version.name, subject: "\(version.name)@\(alias)") { id in
            HookPayload(
                event: .aliasMoved, delivery: id, occurredAt: now, adapter: version.name, ref: "\(version.name)@\(alias)", version: version.version,
                kind: version.kind.rawValue, canonicalDigest: version.canonicalDigest.hex, configDigest: version.configDigest.hex,
                weightsDigest: version.weightsDigest.hex, baseModel: version.baseModel, rank: version.rank, actor: actor,
                alias: alias, previousVersion: previous?.version, previousCanonicalDigest: previous?.canonicalDigest.hex, forced: forced)
        }
    }

    /// 256 random bits, base64url without padding (43 characters): the secret part of API tokens and hook secrets.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// The JSON body of a webhook delivery (snake_case, sorted keys; the exact bytes are stored and signed).
///
/// Both events carry the version now meant (`adapter`, `version`, digests, base model, rank, who acted);
/// `alias.moved` adds the alias and where it pointed before (`previous_version` null for a new alias).
public struct HookPayload: Codable, Sendable, Equatable {
    public let event: HookEvent
    public let delivery: UUID
    public let occurredAt: Date
    public let adapter: String
    /// `NAME@ALIAS` for an alias move, `NAME@VERSION` for a new version.
    public let ref: String
    public let version: Int
    public let kind: String
    public let canonicalDigest: String
    public let configDigest: String
    public let weightsDigest: String
    public let baseModel: String
    public let rank: Int
    public let actor: String
    public var alias: String? = nil
    public var previousVersion: Int? = nil
    public var previousCanonicalDigest: String? = nil
    public var forced: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case event, delivery, adapter, ref, version, kind, rank, actor, alias, forced
        case occurredAt = "occurred_at", canonicalDigest = "canonical_digest", configDigest = "config_digest"
        case weightsDigest = "weights_digest", baseModel = "base_model", previousVersion = "previous_version"
        case previousCanonicalDigest = "previous_canonical_digest"
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(event, forKey: .event)
        try container.encode(delivery.uuidString.lowercased(), forKey: .delivery)
        try container.encode(occurredAt, forKey: .occurredAt)
        try container.encode(adapter, forKey: .adapter)
        try container.encode(ref, forKey: .ref)
        try container.encode(version, forKey: .version)
        try container.encode(kind, forKey: .kind)
        try container.encode(canonicalDigest, forKey: .canonicalDigest)
        try container.encode(configDigest, forKey: .configDigest)
        try container.encode(weightsDigest, forKey: .weightsDigest)
        try container.encode(baseModel, forKey: .baseModel)
        try container.encode(rank, forKey: .rank)
        try container.encode(actor, forKey: .actor)
        if event == .aliasMoved {
            try container.encode(alias, forKey: .alias)
            try container.encode(previousVersion, forKey: .previousVersion)
            try container.encode(previousCanonicalDigest, forKey: .previousCanonicalDigest)
            try container.encode(forced ?? false, forKey: .forced)
        }
    }
}
