import Foundation
import Synchronization

/// Browser sessions for the read-only pages (`/ui`): a browser cannot send `Authorization: Bearer`, so
/// `POST /ui/session` takes a pasted token once and answers with a cookie that names a session instead.
///
/// The cookie holds only a random 256-bit session id; the token's secret stays in this process's memory, and every
/// page request authenticates it again exactly as the API does (a revoked or expired token stops working at once).
/// Sessions end after ``lifetime``, on sign-out, and when the server restarts (the user pastes the token again).
/// With several server processes behind one address, a session is known only to the process that made it.
final class PageSessions: Sendable {
    static let cookieName = "quiver_session"

    private struct Session {
        let secret: String
        let expires: Date
    }

    private let sessions = Mutex<[String: Session]>([:])
    let lifetime: TimeInterval
    private let capacity: Int

    init(lifetime: TimeInterval = 8 * 3600, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Starts a session for a token already authenticated; returns its id (the cookie's value).
    func start(secret: String, now: Date = Date()) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let id = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        sessions.withLock { sessions in
            if sessions.count >= capacity { sessions = sessions.filter { $0.value.expires > now } }
            if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            sessions[id] = Session(secret: secret, expires: now.addingTimeInterval(lifetime))
        }
        return id
    }

    /// The token secret of a live session, nil for an unknown or expired one.
    func secret(session id: String, now: Date = Date()) -> String? {
        sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expires > now else {
                sessions[id] = nil
                return nil
            }
            return session.secret
        }
    }

    func end(session id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// The session id in a `Cookie` header, if it has one of a plausible shape.
    static func sessionID(cookieHeader: String?) -> String? {
        guard let cookieHeader, cookieHeader.utf8.count <= 8192 else { return nil }
        for pair in cookieHeader.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.utf8.count == 43, value.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) {
                return value
            }
        }
        return nil
    }

    /// The `Set-Cookie` value for a session: HttpOnly (no script reads it), SameSite=Strict (no other site's page
    /// sends it), scoped to `/ui`, Secure when the page was reached over https.
    func cookie(_ id: String, secure: Bool) -> String {
        "\(Self.cookieName)=\(id); Path=/ui; Max-Age=\(Int(lifetime)); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    static func expiredCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}
