import Foundation
import Hummingbird
import QuiverCore
import Registry

/// The read-only pages (`/ui`): server-rendered HTML with no script, authenticated by `Authorization: Bearer` or
/// by the session cookie `POST /ui/session` sets (``PageSessions``); never by a token in the query string, where
/// it would reach logs and browser history. Read scope is enough.
extension Handlers {
    static let pageListLimit = 2000

    /// `GET /ui`.
    static func indexPage(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let limit = pageListLimit
        let versions = try await call.registry { try $0.list(VersionFilter(), limit: limit) }
        let reader = call
        return IndexPage.page(versions.filter { reader.mayRead($0.name) }, limit: limit, signedInAs: call.actorName).response()
    }

    /// `GET /ui/versions/{ref}`.
    static func versionPage(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let (_, version) = try await resolve(call)
        let overview = try await call.registry { try $0.overview(of: version) }
        return VersionPage.page(overview, signedInAs: call.actorName).response()
    }

    /// `POST /ui/versions/{ref}/verify`: the page with `verify`'s report (every blob re-read, every merge re-run).
    static func verifyPage(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        try call.requireSameOrigin()
        let (_, version) = try await resolve(call)
        let (overview, report) = try await call.registry { registry in (try registry.overview(of: version), try registry.verify(version)) }
        call.logger.info("verified", metadata: ["version": "\(version.label)", "passed": "\(report.passed)"])
        return VersionPage.page(overview, signedInAs: call.actorName, verification: report).response()
    }

    /// `GET /ui/session`: the sign-in form.
    static func signInForm(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters(["next"])
        return SignInPage.page(next: safeNext(try call.query("next"))).response()
    }

    /// `POST /ui/session` (a form: `token`, `next`): checks the token as the API does (a bad one is audited), starts
    /// a session and redirects to `next` with the session cookie.
    static func signIn(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        try call.requireSameOrigin()
        let form = try FormBody.parse(try await call.bodyBytes())
        let next = safeNext(form["next"])
        let secret = form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        do {
            try await call.authenticate(presenting: secret.isEmpty ? nil : secret)
        } catch let error as RegistryError where error.errorKind == .unauthenticated {
            return SignInPage.page(next: next, message: "That token was not accepted: \(error.reason).", status: .unauthorized).response()
        }
        let session = call.server.sessions.start(secret: secret)
        call.logger.info("page session started", metadata: ["actor": "\(call.actorName)"])
        return Response(status: .seeOther, headers: [
            .location: next, .setCookie: call.server.sessions.cookie(session, secure: call.isHTTPS), .cacheControl: "no-store",
        ])
    }

    /// `POST /ui/session/end`: forgets the session and clears the cookie.
    static func signOut(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        try call.requireSameOrigin()
        if let id = PageSessions.sessionID(cookieHeader: call.header[.cookie]) { call.server.sessions.end(session: id) }
        return Response(status: .seeOther, headers: [
            .location: "/ui/session", .setCookie: PageSessions.expiredCookie(secure: call.isHTTPS), .cacheControl: "no-store",
        ])
    }

    /// Where to go after signing in: a page of this UI, or `/ui` (never another site: no `//host`, no scheme).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.utf8.count <= 512, next == "/ui" || next.hasPrefix("/ui/"), !next.contains("//"), !next.contains("\\"),
              !next.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F })
        else { return "/ui" }
        return next
    }

    /// A page route's error as a page: the sign-in form for a missing or refused token (401), otherwise the
    /// error's code, message and hint with the status the API would answer.
    static func errorPage(_ error: any NamedError, request: Request, server: ServerEnvironment) -> Response {
        let status = ErrorStatus.status(for: error)
        if error.errorKind == .unauthenticated {
            let next = request.method == .get ? safeNext(request.uri.path) : "/ui"
            let presented = Call.bearerSecret(request.headers[.authorization]) != nil || PageSessions.sessionID(cookieHeader: request.headers[.cookie]) != nil
            let message = presented ? "Your session or token is no longer valid: sign in again." : "Sign in to see this page."
            return SignInPage.page(next: next, message: message, status: .unauthorized).response(headers: [.wwwAuthenticate: "Bearer"])
        }
        let t = Page.text
        var body = "<h1>\(t(status.reasonPhrase)) (\(status.code))</h1>\n<div class=\"error\"><p><code>\(t(error.code))</code>: \(t(server.redaction.redact(error.reason)))</p>"
        let hint = server.redaction.redact(error.hint)
        if !hint.isEmpty { body += "<p>hint: \(t(hint))</p>" }
        body += "</div>\n<p><a href=\"/ui\">All adapters</a></p>\n"
        var page = Page(title: "Error", body: body, signedInAs: nil)
        page.status = status
        return page.response()
    }
}

/// An `application/x-www-form-urlencoded` body: at most 16 fields, each name once.
enum FormBody {
    static func parse(_ bytes: [UInt8]) throws -> [String: String] {
        let text = String(decoding: bytes, as: UTF8.self)
        var fields: [String: String] = [:]
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= 16 else { throw ServerError.invalid("the form has more than 16 fields") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) throws -> String {
                guard let value = part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw ServerError.invalid("the form is not valid application/x-www-form-urlencoded")
                }
                return value
            }
            let name = try decode(parts[0]), value = parts.count > 1 ? try decode(parts[1]) : ""
            guard fields[name] == nil else { throw ServerError.invalid("the form field '\(name.prefix(32))' is given more than once") }
            fields[name] = value
        }
        return fields
    }
}
