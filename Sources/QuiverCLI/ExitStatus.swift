import ArgumentParser
import QuiverCore

/// The exit statuses of `quiver`, one per sort of outcome; the table lives here and in the README only.
///
/// | status | meaning |
/// | --- | --- |
/// | 0 | success |
/// | 1 | verification found a mismatch (`verify`, `demo`), or an `integrity` error (a blob does not match its digest) |
/// | 2 | refused or invalid: `refusal`, `invalid_input`, `conflict`, and a server's `unauthenticated`/`forbidden` |
/// | 3 | `not_found` |
/// | 4 | `unavailable`: PostgreSQL or S3 did not answer, after every retry |
/// | 64 | usage: an unknown flag, a missing argument, or an option value that is malformed or out of range on its own |
/// | 70 | `internal`, and any error that is not a `NamedError` |
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    case mismatch = 1
    case refused = 2
    case notFound = 3
    case unavailable = 4
    case usage = 64
    case `internal` = 70

    /// The status for an error of `kind` raised while a command ran.
    public init(_ kind: ErrorKind) {
        switch kind {
        case .integrity: self = .mismatch
        case .refusal, .invalidInput, .conflict, .unauthenticated, .forbidden: self = .refused
        case .notFound: self = .notFound
        case .unavailable: self = .unavailable
        case .internal: self = .internal
        }
    }

    /// As argument-parser's `ExitCode`, for a command that has printed its outcome and only sets the status.
    public var exitCode: ExitCode { ExitCode(rawValue) }
}
