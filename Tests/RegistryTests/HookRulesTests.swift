import Foundation
import QuiverCore
import Registry
import Testing

/// The webhook decisions that need no I/O: URLs, events, matching, backoff; and the signature's exact bytes.
@Suite("webhook rules")
struct HookRulesTests {
    @Test(arguments: ["http://127.0.0.1:9000/quiver", "https://hooks.example.com/a?b=c", "HTTP://host/"])
    func acceptsHTTPURLs(_ url: String) throws {
        try HookRules.validate(url: url)
    }

    @Test(arguments: ["ftp://host/x", "file:///etc/passwd", "http://", "127.0.0.1:9000", "http://user:pw@host/", "http://host/a b",
                      "http://host/\u{7}", "http://" + String(repeating: "a", count: 2050)])
    func refusesOtherURLs(_ url: String) {
        #expect(throws: RegistryError.self) { try HookRules.validate(url: url) }
    }

    @Test func parsesEventLists() throws {
        #expect(try HookRules.events("version.created,alias.moved,alias.moved") == [.aliasMoved, .versionCreated])
        #expect(throws: RegistryError.self) { try HookRules.events("alias.moved,alias.deleted") }
        #expect(throws: RegistryError.self) { try HookRules.events("") }
        #expect(throws: RegistryError.self) { try HookRules.validate(events: [], adapterPattern: nil, secret: nil) }
        #expect(throws: RegistryError.self) { try HookRules.validate(events: [.aliasMoved], adapterPattern: nil, secret: "short") }
    }

    @Test func matchesByEventPatternAndRemoval() {
        let hook = WebhookRecord(id: 1, url: "http://h/", events: [.aliasMoved], adapterPattern: "team/*", createdBy: "a", createdAt: Date(), removedAt: nil)
        #expect(HookRules.matches(hook, event: .aliasMoved, adapter: "team/tone"))
        #expect(!HookRules.matches(hook, event: .versionCreated, adapter: "team/tone"))
        #expect(!HookRules.matches(hook, event: .aliasMoved, adapter: "other"))
        let every = WebhookRecord(id: 2, url: "http://h/", events: [.aliasMoved], adapterPattern: nil, createdBy: "a", createdAt: Date(), removedAt: nil)
        #expect(HookRules.matches(every, event: .aliasMoved, adapter: "anything"))
        let removed = WebhookRecord(id: 3, url: "http://h/", events: [.aliasMoved], adapterPattern: nil, createdBy: "a", createdAt: Date(), removedAt: Date())
        #expect(!HookRules.matches(removed, event: .aliasMoved, adapter: "anything"))
    }

    @Test func backoffDoublesUpToTheCapAndStopsAfterTheLastAttempt() {
        let retry = HookRules.Retry(maxAttempts: 6, baseDelay: 2, maxDelay: 10)
        #expect((1...6).map { retry.delay(afterAttempt: $0) } == [2, 4, 8, 10, 10, nil])
        let now = Date(timeIntervalSince1970: 1_000)
        #expect(retry.next(afterAttempt: 1, httpStatus: 204, finished: now) == .delivered)
        #expect(retry.next(afterAttempt: 2, httpStatus: 500, finished: now) == .retry(at: now.addingTimeInterval(4)))
        #expect(retry.next(afterAttempt: 3, httpStatus: nil, finished: now) == .retry(at: now.addingTimeInterval(8)))
        #expect(retry.next(afterAttempt: 6, httpStatus: 302, finished: now) == .failed, "a redirect is not followed, nor a success")
        #expect(HookRules.Retry(maxAttempts: 1).delay(afterAttempt: 1) == nil)
        #expect(HookRules.Retry(maxAttempts: 100, baseDelay: 1, maxDelay: 600).delay(afterAttempt: 99) == 600, "no overflow")
    }

    @Test func theSignatureIsHMACSHA256OfTimestampDotBody() {
        // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'qwh_test-secret-0123456789',
        //   b'1700000000.{\"event\":\"alias.moved\"}', hashlib.sha256).hexdigest())"
        let body = Data(#"{"event":"alias.moved"}"#.utf8)
        let header = WebhookSignature.header(secret: "qwh_test-secret-0123456789", timestamp: 1_700_000_000, body: body)
        #expect(header == "sha256=b352515e3c4a7b3f57b477e1a10207364b761255503ba1da6ba72f1a8536d944")
        #expect(WebhookSignature.isValid(header, secret: "qwh_test-secret-0123456789", timestamp: 1_700_000_000, body: body))
        #expect(!WebhookSignature.isValid(header, secret: "qwh_test-secret-0123456789", timestamp: 1_700_000_001, body: body))
        #expect(!WebhookSignature.isValid(header, secret: "qwh_other-secret-0123456789", timestamp: 1_700_000_000, body: body))
        #expect(!WebhookSignature.isValid(header, secret: "qwh_test-secret-0123456789", timestamp: 1_700_000_000, body: body + Data(" ".utf8)))
    }
}
