import Foundation
import ObjectStore
import QuiverCore

/// Where the server is, the token to present, and how long to wait: everything a ``QuiverClient`` needs.
///
/// The token comes from the environment only — `QUIVER_TOKEN`, or the first line of the file `QUIVER_TOKEN_FILE`
/// names — never from the command line, where `ps` would show it to every user of the machine.
public struct ClientSettings: Sendable {
    /// The server's base URL (`http(s)://host[:port][/prefix]`), without a trailing slash.
    public var server: URL
    /// The bearer token (`qvr_…`); nil sends none (the server answers 401 `auth.unauthenticated`).
    public var token: String?
    /// Seconds to wait for a TCP (and TLS) connection.
    public var connectTimeout: Double = 5
    /// A transfer or a quick request fails when less than 1 byte/s flows for this many seconds.
    public var stallTimeout: Int = 60
    /// The same limit for requests the server computes before it answers (a merge, verify, register, gc): a merge
    /// of large inputs sends nothing for minutes.
    public var computeTimeout: Int = 3600
    /// Retries of requests that never reached the server or may be repeated (reads, blob uploads), bounded in
    /// attempts and total time, so an unreachable server fails in seconds.
    public var retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.25, maxDelay: 1, maxTotal: 6)

    public init(server: URL, token: String?) {
        self.server = server
        self.token = token
    }

    /// The settings for `server` (a `--server` flag or `QUIVER_SERVER`) with the token from `environment`.
    public static func resolve(server: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ClientSettings {
        ClientSettings(server: try serverURL(server), token: try token(environment: environment))
    }

    /// A server URL as the command line takes it: `http` or `https`, a host, an optional port and path prefix; no
    /// credentials (they would show in `ps`), query or fragment.
    public static func serverURL(_ text: String) throws -> URL {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func refuse(_ why: String) -> ClientError {
            ClientError(.invalidInput, "invalid_server", "--server '\(TerminalText.escape(String(trimmed.prefix(200))))' \(why)",
                        hint: "write e.g. --server http://127.0.0.1:8080 (or set QUIVER_SERVER)")
        }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw refuse("is not a URL")
        }
        guard scheme == "http" || scheme == "https" else { throw refuse("is not an http or https URL") }
        guard let host = components.host, !host.isEmpty else { throw refuse("names no host") }
        guard components.user == nil, components.password == nil else {
            throw refuse("carries credentials: the token goes in QUIVER_TOKEN or QUIVER_TOKEN_FILE, never in the URL")
        }
        guard components.query == nil, components.fragment == nil else { throw refuse("has a query or a fragment") }
        if let port = components.port, !(1...65_535).contains(port) { throw refuse("has port \(port), outside 1-65535") }
        var normalized = components
        normalized.scheme = scheme
        while normalized.path.hasSuffix("/") { normalized.path.removeLast() }
        guard let url = normalized.url else { throw refuse("is not a URL") }
        return url
    }

    /// `QUIVER_TOKEN`, else the first line of the file named by `QUIVER_TOKEN_FILE`, else nil.
    public static func token(environment: [String: String]) throws -> String? {
        if let token = environment["QUIVER_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            return try checked(token, from: "QUIVER_TOKEN")
        }
        guard let path = environment["QUIVER_TOKEN_FILE"], !path.isEmpty else { return nil }
        let bytes: Data
        do {
            bytes = try RegularFile.read(path, limit: 4096)
        } catch {
            throw ClientError(.invalidInput, "token_file", "QUIVER_TOKEN_FILE \(path): \(error.reason)",
                              hint: "point QUIVER_TOKEN_FILE at a file holding the token (quiver token create > FILE)")
        }
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let token = line.trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else {
            throw ClientError(.invalidInput, "token_file", "QUIVER_TOKEN_FILE \(path) is empty",
                              hint: "write the token (quiver token create) on its first line")
        }
        return try checked(token, from: "QUIVER_TOKEN_FILE \(path)")
    }

    /// A token fits in an HTTP header: printable ASCII, no spaces, at most 512 bytes.
    private static func checked(_ token: String, from source: String) throws -> String {
        guard token.utf8.count <= 512, token.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ClientError(.invalidInput, "invalid_token", "the token in \(source) is longer than 512 bytes or holds spaces or control characters",
                              hint: "copy the token exactly as 'quiver token create' printed it")
        }
        return token
    }
}
