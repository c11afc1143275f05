import Foundation
import Testing
@testable import QuiverServer

/// The pages' pure parts: sessions, cookies, where a sign-in may lead, form bodies, the stylesheet's hash.
@Suite("page sessions and forms")
struct PageUnitTests {
    @Test func sessionsHoldTheTokenInMemoryAndExpire() {
        let sessions = PageSessions(lifetime: 60, capacity: 2)
        let now = Date(timeIntervalSince1970: 1_000_000)
        let id = sessions.start(secret: "qvr_secret", now: now)
        #expect(id.utf8.count == 43 && !id.contains("qvr_"), "a random id, not the token")
        #expect(sessions.secret(session: id, now: now.addingTimeInterval(59)) == "qvr_secret")
        #expect(sessions.secret(session: id, now: now.addingTimeInterval(61)) == nil, "expired")
        #expect(sessions.secret(session: id, now: now) == nil, "an expired session is forgotten")
        let a = sessions.start(secret: "a", now: now), b = sessions.start(secret: "b", now: now.addingTimeInterval(1))
        let c = sessions.start(secret: "c", now: now.addingTimeInterval(2))
        #expect(sessions.secret(session: a, now: now) == nil, "at capacity the oldest goes")
        #expect(sessions.secret(session: b, now: now.addingTimeInterval(2)) == "b" && sessions.secret(session: c, now: now.addingTimeInterval(2)) == "c")
        sessions.end(session: c)
        #expect(sessions.secret(session: c, now: now.addingTimeInterval(2)) == nil)
    }

    @Test func theCookieIsReadOnlyInItsOwnShape() {
        let id = String(repeating: "a", count: 43)
        #expect(PageSessions.sessionID(cookieHeader: "other=1; quiver_session=\(id); x=y") == id)
        #expect(PageSessions.sessionID(cookieHeader: "quiver_session=short") == nil)
        #expect(PageSessions.sessionID(cookieHeader: "quiver_session=\(String(repeating: "<", count: 43))") == nil)
        #expect(PageSessions.sessionID(cookieHeader: nil) == nil)
        let cookie = PageSessions().cookie(id, secure: true)
        #expect(cookie == "quiver_session=\(id); Path=/ui; Max-Age=28800; HttpOnly; SameSite=Strict; Secure")
        #expect(PageSessions.expiredCookie(secure: false) == "quiver_session=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict")
    }

    @Test(arguments: [
        ("/ui/versions/team%2Ftone@1", "/ui/versions/team%2Ftone@1"), ("/ui", "/ui"),
        ("//attacker.invalid/ui", "/ui"), ("/ui//attacker.invalid", "/ui"), ("https://attacker.invalid/ui", "/ui"),
        ("/v1/tokens", "/ui"), ("/ui/\\attacker", "/ui"), ("/ui/x y", "/ui"), ("/uix", "/ui"),
    ])
    func signInLeadsOnlyToPagesOfThisSite(next: String, expected: String) {
        #expect(Handlers.safeNext(next) == expected)
    }

    @Test func formBodiesAreDecodedStrictly() throws {
        let form = try FormBody.parse(Array("token=qvr_a%2Bb&next=%2Fui%2Fversions%2Fx%401&empty=&plus=a+b".utf8))
        #expect(form == ["token": "qvr_a+b", "next": "/ui/versions/x@1", "empty": "", "plus": "a b"])
        #expect(throws: ServerError.self) { try FormBody.parse(Array("token=a&token=b".utf8)) }
        #expect(throws: ServerError.self) { try FormBody.parse(Array("bad=%zz".utf8)) }
        #expect(throws: ServerError.self) { try FormBody.parse(Array((0..<20).map { "f\($0)=1" }.joined(separator: "&").utf8)) }
    }

    @Test func theContentSecurityPolicyNamesTheStylesheetByHash() {
        let policy = Page.contentSecurityPolicy
        #expect(policy.hasPrefix("default-src 'none'; style-src 'sha256-") && !policy.contains("unsafe"))
        #expect(Page.styleHash.count == "sha256-".count + 44)
        let html = Page(title: "<x>", body: "", signedInAs: "a\"b").html
        #expect(html.contains("<style>\(Page.stylesheet)</style>") && html.contains("<title>&lt;x&gt; · Quiver</title>"))
        #expect(html.contains("signed in as a&quot;b") && !html.contains("<script"))
    }
}
