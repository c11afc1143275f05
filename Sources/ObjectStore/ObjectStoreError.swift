import QuiverCore

/// A failure of a blob store: what went wrong, on which blob or endpoint, and what to do.
///
/// Compare errors by `kind`; `reason` carries the details (key, endpoint, HTTP status, curl's message).
public struct ObjectStoreError: NamedError, Equatable {
    /// The stable categories callers branch on.
    public enum Kind: String, Sendable, Equatable {
        /// The server refused the credentials or the signature (403 InvalidAccessKeyId, SignatureDoesNotMatch,
        /// AccessDenied).
        case credentials
        /// The object is absent (404).
        case notFound = "not_found"
        /// No answer from the endpoint after every retry (connection refused, reset).
        case unreachable
        /// The endpoint accepted the connection but sent nothing for the stall timeout (or did not accept within
        /// the connect timeout), on the last attempt: a hung server, reported in bounded time instead of a hang.
        case timeout
        /// The bytes read do not hash to the blob's digest.
        case corruptBlob = "corrupt_blob"
        /// The bucket does not exist (NoSuchBucket).
        case bucketMissing = "bucket_missing"
        /// The server failed (5xx after retries) or answered something we cannot use.
        case serverError = "server_error"
        /// A blob-store URL or setting is malformed or missing.
        case configuration
        /// A local file could not be read or written.
        case io
        /// A streamed put's body was shorter or longer than the size declared for it (nothing was stored).
        case sizeMismatch = "size_mismatch"
        /// A ranged read starts past the end of the blob (HTTP's 416).
        case rangeNotSatisfiable = "range_not_satisfiable"
    }

    public var kind: Kind
    public var reason: String
    public var hint: String

    public init(_ kind: Kind, _ reason: String, hint: String = "") {
        self.kind = kind
        self.reason = reason
        self.hint = hint
    }

    public var code: String { "objectstore.\(kind.rawValue)" }

    public var errorKind: ErrorKind {
        switch kind {
        case .notFound: .notFound
        case .corruptBlob: .integrity
        case .configuration, .sizeMismatch, .rangeNotSatisfiable: .invalidInput
        case .credentials, .unreachable, .timeout, .bucketMissing, .serverError, .io: .unavailable
        }
    }

    /// A stored blob whose bytes hash to `actual`, not to the digest it is stored under.
    public static func corrupt(_ digest: SHA256Digest, actual: SHA256Digest, at location: String) -> ObjectStoreError {
        ObjectStoreError(
            .corruptBlob,
            "blob sha256/\(digest.hex) at \(location) hashes to \(actual.hex)",
            hint: "the stored object was altered or truncated; re-upload it from a good copy (quiver verify finds others)"
        )
    }

    /// The stored object under a blob's key has another size than the blob (`stored`, nil when only known to be
    /// shorter): it is not the blob.
    static func sizeDiffers(_ digest: SHA256Digest, stored: Int64?, expected: Int64, at location: String) -> ObjectStoreError {
        ObjectStoreError(
            .corruptBlob,
            "blob sha256/\(digest.hex) at \(location) is \(expected) bytes, but the stored object "
                + (stored.map { "holds \($0)" } ?? "is shorter"),
            hint: "the stored object was altered or truncated; re-upload it from a good copy (quiver verify finds others)"
        )
    }

    /// A ranged read that starts past the blob's end (`size` when known).
    static func rangeNotSatisfiable(_ range: Range<Int64>, _ digest: SHA256Digest, size: Int64?) -> ObjectStoreError {
        ObjectStoreError(
            .rangeNotSatisfiable,
            "bytes \(range.lowerBound)..<\(range.upperBound) of blob sha256/\(digest.hex) start past its end"
                + (size.map { " (\($0) bytes)" } ?? ""),
            hint: "ask for a range that starts before the blob's size")
    }

    static func io(_ what: String, _ path: String, errno code: Int32) -> ObjectStoreError {
        ObjectStoreError(.io, "\(what) \(path): \(String(cString: strerror(code)))",
                         hint: "check the path, its permissions and free disk space")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
