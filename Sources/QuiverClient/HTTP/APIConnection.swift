import Foundation
import ObjectStore
import QuiverCore

/// The API's requests over ObjectStore's curl transfer layer (``CurlHandlePool``): the URL, the bearer token,
/// retries within ``ClientSettings/retry``, and every failure turned into a named error — the server's own
/// (``RemoteError``) or the client's (``ClientError``, `unavailable` when the server cannot be reached).
///
/// Blocks the calling thread (the CLI's main thread) for each exchange.
final class APIConnection: Sendable {
    let settings: ClientSettings
    private let handles = CurlHandlePool(limit: 4)

    init(settings: ClientSettings) {
        self.settings = settings
    }

    /// Which failures a request may be sent again after.
    enum Repetition {
        /// Reading, and content-addressed uploads: sending it twice does no harm, so any failure to get an answer
        /// and a 502/503/504 are retried.
        case safe
        /// Anything else (recording an evaluation, creating a token): sent again only when the server cannot have
        /// acted on it — no connection was made, or it answered 503 `server.overloaded` before starting.
        case once
    }

    /// One request: method, path segments (each percent-encoded here), query, body.
    struct Call {
        var method: String
        var path: [String]
        var query: [(String, String)] = []
        var body: HTTPRequest.Body = .none
        var contentType: String?
        var repetition: Repetition
        /// The stall limit in seconds (``ClientSettings/stallTimeout`` or ``ClientSettings/computeTimeout``).
        var stall: Int

        init(_ method: String, _ path: [String], query: [(String, String)] = [], body: HTTPRequest.Body = .none,
             contentType: String? = nil, repetition: Repetition, stall: Int) {
            self.method = method
            self.path = path
            self.query = query
            self.body = body
            self.contentType = contentType
            self.repetition = repetition
            self.stall = stall
        }
    }

    /// `server/segment/segment?query`, every segment and query value percent-encoded (a name's `/` as `%2F`).
    func url(_ call: Call) -> String {
        var text = settings.server.absoluteString + call.path.map { "/" + Self.encode($0, keeping: Self.pathCharacters) }.joined()
        if !call.query.isEmpty {
            text += "?" + call.query.map { Self.encode($0.0, keeping: Self.unreserved) + "=" + Self.encode($0.1, keeping: Self.unreserved) }
                .joined(separator: "&")
        }
        return text
    }

    /// RFC 3986 unreserved characters: never encoded.
    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    /// A path segment may also carry `@` and `:` as they are (`tone@2`, `sha256:…`).
    static let pathCharacters = unreserved.union("@:".utf8)

    static func encode(_ text: String, keeping allowed: Set<UInt8>) -> String {
        var out = ""
        for byte in text.utf8 {
            if allowed.contains(byte) {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Sends `call` (retrying what ``Repetition`` allows) and returns the final answer, whatever its status; a
    /// 2xx body goes into `sink` when given. Throws when no answer came (``ClientError`` `unavailable`) or a local
    /// callback failed (its own error: an unreadable file, a body that no longer hashes to its digest).
    func perform(_ call: Call, sink: (any ResponseSink)? = nil, progress: HTTPTransfer.ProgressHandler? = nil) throws -> HTTPResponse {
        var headers: [(String, String)] = [("User-Agent", "quiver/\(QuiverVersion.current)")]
        if let token = settings.token { headers.append(("Authorization", "Bearer \(token)")) }
        if let contentType = call.contentType { headers.append(("Content-Type", contentType)) }
        let request = HTTPRequest(method: call.method, url: url(call), headers: headers, body: call.body)
        return try exchange(
            request, stall: call.stall, label: "\(call.method) \(request.url)", sink: sink, progress: progress,
            retryStatus: { Self.isWorthRetrying($0, call.repetition) },
            retryFailure: { $0.neverConnected || call.repetition == .safe })
    }

    /// GET `location` (a presigned blob-store URL the server redirected to) into `sink`: no bearer token (the URL
    /// carries its own signature, and the token is not the store's to see), retried like a safe request, and
    /// also after a 500 (S3's InternalError asks for a retry).
    func performRedirected(to location: String, _ call: Call, sink: any ResponseSink, progress: HTTPTransfer.ProgressHandler? = nil) throws -> HTTPResponse {
        guard let url = URL(string: location), ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
            throw ClientError(.unavailable, "redirect_failed", "the server redirected the download to something that is not an http(s) URL")
        }
        let request = HTTPRequest(method: "GET", url: location, headers: [("User-Agent", "quiver/\(QuiverVersion.current)")], body: .none)
        // The label names the store's host only: the URL's query is a signature.
        return try exchange(
            request, stall: call.stall, label: "GET \(url.host ?? "the blob store") (presigned)", sink: sink, progress: progress,
            retryStatus: { [500, 502, 503, 504].contains($0.status) }, retryFailure: { _ in true })
    }

    /// Sends `request` until an answer that `retryStatus` does not want retried, a failure that `retryFailure` does
    /// not, or the end of ``ClientSettings/retry``'s window; a `Retry-After` (up to 5 s) is waited out.
    private func exchange(
        _ request: HTTPRequest, stall: Int, label: String, sink: (any ResponseSink)?, progress: HTTPTransfer.ProgressHandler?,
        retryStatus: (HTTPResponse) -> Bool, retryFailure: (TransportFailure) -> Bool
    ) throws -> HTTPResponse {
        let options = HTTPTransfer.Options(connectTimeout: settings.connectTimeout, stallTimeout: stall)
        let started = Date()
        var attempt = 0
        while true {
            attempt += 1
            try sink?.reset()
            let result = try handles.perform(request, sink: sink, options: options, progress: progress)
            let elapsed = -started.timeIntervalSinceNow
            let wait = settings.retry.delay(afterAttempt: attempt, elapsed: elapsed, random: Double.random(in: 0..<1))
            switch result {
            case .success(let response):
                guard let wait, retryStatus(response) else { return response }
                let advised = response.headers["retry-after"].flatMap(Double.init).map { min($0, 5) } ?? 0
                Thread.sleep(forTimeInterval: max(wait, min(advised, settings.retry.maxTotal - elapsed)))
            case .failure(let failure):
                if let local = failure.localError { throw local }
                if let wait, retryFailure(failure) {
                    Thread.sleep(forTimeInterval: wait)
                    continue
                }
                throw Self.unreachable(failure, request: label, attempts: attempt, seconds: elapsed, server: settings.server)
            }
        }
    }

    static func isWorthRetrying(_ response: HTTPResponse, _ repetition: Repetition) -> Bool {
        switch repetition {
        case .safe:
            return [429, 502, 503, 504].contains(response.status)
        case .once:
            // Only a refusal to start: the server's admission control answers 503 with Retry-After before any work.
            return response.status == 503 && response.headers["retry-after"] != nil
        }
    }

    static func unreachable(_ failure: TransportFailure, request: String, attempts: Int, seconds: Double, server: URL) -> ClientError {
        let (code, what) = failure.neverConnected ? ("unreachable", "could not connect")
            : failure.timedOut ? ("timeout", "timed out") : ("transport", "failed")
        return ClientError(
            .unavailable, code, "\(request) \(what) after \(attempts) attempt(s) in \(NumberFormat.fixed(seconds, 1)) s: \(failure.message)",
            hint: "check that quiver serve is running at \(server.absoluteString) (--server or QUIVER_SERVER)")
    }

    /// Throws the server's error unless the answer's status is one of `expected`.
    func check(_ response: HTTPResponse, _ call: Call, expected: Set<Int>) throws {
        guard !expected.contains(response.status) else { return }
        throw RemoteError.from(status: response.status, body: response.body, request: "\(call.method) \(url(call))")
    }

    /// The answer's JSON body as `type`.
    func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse, _ call: Call) throws -> T {
        do {
            return try Self.decoder().decode(type, from: response.body)
        } catch {
            throw ClientError(
                .unavailable, "bad_response",
                "the answer to \(call.method) \(url(call)) (HTTP \(response.status)) is not the \(T.self) this client expects: \(error)",
                hint: "check that the server runs the same quiver version as this client (\(QuiverVersion.current))")
        }
    }

    /// Sends `call` and decodes its JSON answer, which must come with one of `expected`.
    func json<T: Decodable>(_ type: T.Type, _ call: Call, expected: Set<Int> = [200]) throws -> T {
        let response = try perform(call)
        try check(response, call, expected: expected)
        return try decode(type, from: response, call)
    }

    /// `value` as a JSON request body.
    static func body(_ value: some Encodable) throws -> HTTPRequest.Body {
        .data(try JSONEncoder().encode(value))
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
