import Foundation

/// How many times, and how long apart, a failed request is retried: exponential backoff with full jitter,
/// bounded both in attempts and in total time. Pure, so it is unit-tested without a network.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first one included (1 = no retry).
    public var maxAttempts: Int
    /// The backoff ceiling before the first retry, in seconds; it doubles for each further retry.
    public var baseDelay: Double
    /// No single wait is longer than this, in seconds.
    public var maxDelay: Double
    /// No retry starts once this many seconds have passed since the first attempt.
    public var maxTotal: Double

    public init(maxAttempts: Int = 20, baseDelay: Double = 0.25, maxDelay: Double = 4, maxTotal: Double = 30) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(0, maxDelay)
        self.maxTotal = max(0, maxTotal)
    }

    /// The default for production: retries for up to 30 s (at most 20 attempts, waits growing from 0.25 s to 4 s),
    /// so a gateway restart of several seconds is ridden out. (Before: 5 attempts, which full jitter spent in about
    /// 2 s, so a 5 s SeaweedFS restart failed an upload.)
    public static let standard = RetryPolicy()

    /// The variable that sets ``maxTotal`` (seconds; 0 turns retries off).
    public static let windowVariable = "QUIVER_S3_RETRY_SECONDS"

    /// `base` with its retry window taken from `QUIVER_S3_RETRY_SECONDS` when set: a number of seconds from 0 to
    /// 3600 (0: one attempt, no retry). Throws `.configuration` for anything else.
    public static func fromEnvironment(_ environment: [String: String], base: RetryPolicy = .standard) throws -> RetryPolicy {
        guard let text = environment[windowVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return base
        }
        guard let seconds = Double(text), seconds.isFinite, (0...3600).contains(seconds) else {
            throw ObjectStoreError(.configuration, "\(windowVariable)=\(text.prefix(40)) is not a number of seconds from 0 to 3600",
                                   hint: "write e.g. \(windowVariable)=30 (0 turns retries off)")
        }
        var policy = base
        policy.maxTotal = seconds
        if seconds == 0 { policy.maxAttempts = 1 }
        return policy
    }

    /// The wait before the next attempt, or nil to give up.
    ///
    /// - Parameters:
    ///   - attempt: how many attempts have been made so far (1 after the first failure).
    ///   - elapsed: seconds since the first attempt started.
    ///   - random: a number in [0, 1) — full jitter spreads clients that failed together.
    public func delay(afterAttempt attempt: Int, elapsed: Double, random: Double) -> Double? {
        guard attempt < maxAttempts else { return nil }
        let exponent = min(attempt - 1, 30)
        let ceiling = min(maxDelay, baseDelay * Double(1 << exponent))
        let wait = ceiling * min(max(random, 0), 1)
        guard elapsed + wait <= maxTotal else { return nil }
        return wait
    }

    /// Whether an outcome is worth retrying: connection-level failures and server errors (5xx, 429 throttling).
    /// Client errors (4xx) would fail the same way again.
    public static func isRetryable(_ outcome: Outcome) -> Bool {
        switch outcome {
        case .transport: return true
        case .status(let code): return code >= 500 || code == 429
        }
    }

    /// The result of one attempt, as the policy sees it.
    public enum Outcome: Sendable, Equatable {
        /// The request never got an HTTP answer (refused, reset, timed out).
        case transport
        /// The server answered with this status.
        case status(Int)
    }
}
