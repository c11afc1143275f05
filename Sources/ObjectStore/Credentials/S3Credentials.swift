import Foundation

/// The keys one S3 request is signed with.
public struct S3Credentials: Sendable, Equatable {
    public var accessKey: String
    public var secretKey: String
    /// Temporary credentials' token, sent as `x-amz-security-token`.
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }
}

/// Where an ``S3Client`` gets the credentials it signs with. It is asked before every request (every attempt of
/// it), from many threads at once, so it must be thread-safe and cheap when nothing changed; a provider of
/// temporary credentials refreshes them before they expire.
public protocol S3CredentialProvider: Sendable {
    /// The credentials to sign the next request with. Throws `ObjectStoreError` (`.credentials`, or `.unreachable`
    /// for a token service that does not answer) when none can be had.
    func credentials() throws -> S3Credentials

    /// Where the credentials come from, for messages and hints; never contains a secret
    /// (`AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`, `profile dev in /home/me/.aws/credentials`, …).
    var source: String { get }
}

/// Credentials that never change: given explicitly, or read once from the environment or a profile.
public struct StaticCredentials: S3CredentialProvider {
    public let value: S3Credentials
    public let source: String

    public init(_ value: S3Credentials, source: String = "the settings given to the S3 client") {
        self.value = value
        self.source = source
    }

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil,
                source: String = "the settings given to the S3 client")
    {
        self.init(S3Credentials(accessKey: accessKey, secretKey: secretKey, sessionToken: sessionToken), source: source)
    }

    public func credentials() throws -> S3Credentials { value }
}
