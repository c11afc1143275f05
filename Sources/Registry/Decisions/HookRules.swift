import Foundation
import QuiverCore

/// The webhook decisions that need no I/O: what a hook may be, which hooks an event reaches, and when a failed
/// delivery is tried again.
public enum HookRules {
    /// The longest hook URL accepted.
    public static let maxURLLength = 2048

    /// Refuses a URL that is not absolute `http` or `https` with a host, is longer than ``maxURLLength``, or carries
    /// user information, whitespace or control characters. Redirects are never followed when delivering.
    public static func validate(url text: String) throws {
        func refuse(_ why: String) -> RegistryError {
            RegistryError(.invalidInput, code: "hook.invalid_url", reason: "'\(TerminalText.escape(String(text.prefix(120))))' is not a hook URL: \(why)",
                          hint: "give an absolute http:// or https:// URL of at most \(maxURLLength) characters, e.g. http://127.0.0.1:9000/quiver")
        }
        guard text.utf8.count <= maxURLLength else { throw refuse("it is longer than \(maxURLLength) characters") }
        guard !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control || !$0.isASCII }) else {
            throw refuse("it holds whitespace, control or non-ASCII characters")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else { throw refuse("it does not parse") }
        guard scheme == "http" || scheme == "https" else { throw refuse("the scheme must be http or https") }
        guard let host = components.host, !host.isEmpty else { throw refuse("it has no host") }
        guard components.user == nil, components.password == nil else { throw refuse("credentials in the URL would be stored and logged; sign with the hook's secret instead") }
    }

    /// Parses a comma-separated event list (`alias.moved,version.created`); duplicates collapse, order is sorted.
    public static func events(_ text: String) throws -> [HookEvent] {
        var events = Set<HookEvent>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let event = HookEvent(rawValue: item) else {
                throw RegistryError(.invalidInput, code: "hook.invalid_event", reason: "'\(TerminalText.escape(String(item.prefix(64))))' is not a hook event",
                                    hint: "events: \(HookEvent.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            events.insert(event)
        }
        return events.sorted()
    }

    /// Refuses an empty event list, a malformed adapter pattern or a secret too short or too long.
    public static func validate(events: [HookEvent], adapterPattern: String?, secret: String?) throws {
        guard !events.isEmpty else {
            throw RegistryError(.invalidInput, code: "hook.invalid_event", reason: "a hook needs at least one event",
                                hint: "events: \(HookEvent.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let pattern = adapterPattern, pattern.isEmpty || pattern.count > 128 || TerminalText.hasControlCharacters(pattern) {
            throw RegistryError(.invalidInput, code: "hook.invalid_pattern", reason: "an --adapter pattern has 1-128 characters on one line")
        }
        if let secret, secret.utf8.count < 16 || secret.utf8.count > 256 || TerminalText.hasControlCharacters(secret) {
            throw RegistryError(.invalidInput, code: "hook.invalid_secret", reason: "a hook secret has 16-256 bytes and no control characters",
                                hint: "leave it out and one is generated (256 random bits), shown once")
        }
    }

    /// Whether `hook` wants `event` about the adapter `name`.
    public static func matches(_ hook: WebhookRecord, event: HookEvent, adapter name: String) -> Bool {
        hook.removedAt == nil && hook.events.contains(event) && (hook.adapterPattern.map { Authorization.matches($0, name) } ?? true)
    }

    /// When and whether a delivery is tried again after a failed attempt.
    public struct Retry: Sendable, Equatable {
        /// Attempts in all, the first included; the delivery fails after the last.
        public var maxAttempts: Int
        /// The wait after the first failure; each later wait doubles it.
        public var baseDelay: Double
        /// No wait is longer than this.
        public var maxDelay: Double

        public init(maxAttempts: Int = 8, baseDelay: Double = 2, maxDelay: Double = 600) {
            self.maxAttempts = max(1, maxAttempts)
            self.baseDelay = max(0, baseDelay)
            self.maxDelay = max(self.baseDelay, maxDelay)
        }

        /// The seconds to wait after failed attempt `attempt` (1 for the first): base · 2^(attempt-1), capped; nil
        /// when that was the last attempt.
        public func delay(afterAttempt attempt: Int) -> Double? {
            guard attempt < maxAttempts else { return nil }
            let exponent = Double(min(max(attempt - 1, 0), 62))
            return min(baseDelay * pow(2, exponent), maxDelay)
        }

        /// What follows an attempt that ended with `httpStatus` (nil: no answer) at `finished`: a 2xx is delivered,
        /// anything else is tried again after ``delay(afterAttempt:)``, or fails after the last attempt.
        public func next(afterAttempt attempt: Int, httpStatus: Int?, finished: Date) -> WebhookStore.Next {
            if let status = httpStatus, (200..<300).contains(status) { return .delivered }
            guard let wait = delay(afterAttempt: attempt) else { return .failed }
            return .retry(at: finished.addingTimeInterval(wait))
        }
    }
}
