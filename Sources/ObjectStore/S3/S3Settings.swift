import Foundation

/// Where an S3 blob store lives and how to reach it.
public struct S3Settings: Sendable {
    /// Scheme, host and port only (`http://127.0.0.1:8333`); requests are path-style (`/<bucket>/<key>`).
    public var endpoint: URL
    public var region: String
    /// What requests are signed with; asked before every request (see ``S3CredentialProvider``).
    public var credentials: any S3CredentialProvider
    public var bucket: String
    /// A folder inside the bucket, without leading or trailing slash ("" for the bucket's root).
    public var prefix: String
    /// Files larger than this go up as multipart uploads, and blobs larger than this come down as parallel ranges.
    /// 16 MiB (the AWS CLI's is 8 MiB): from there a multipart upload, its parts verified while they go out, beats
    /// one PUT of a file that must be re-hashed before its first byte, and two ranges beat one stream (a 32 MiB
    /// register and pull, measured against 64 MiB: docs/benchmarks.md, sixth session).
    public var multipartThreshold: Int64 = 16 << 20
    /// The size of each multipart part, and of each range of a parallel download; S3 requires at least 5 MiB
    /// for upload parts (except the last part).
    public var partSize: Int64 = 16 << 20
    /// Parts uploaded at once.
    public var uploadConcurrency: Int = 4
    /// Ranges downloaded at once when a blob is larger than `multipartThreshold`.
    public var downloadConcurrency: Int = 4
    public var retry: RetryPolicy = .standard
    /// Seconds to wait for a TCP connection.
    public var connectTimeout: Double = 10
    /// Seconds of no progress before a transfer is abandoned (then retried).
    public var stallTimeout: Int = 60

    public init(
        endpoint: URL, region: String, credentials: any S3CredentialProvider, bucket: String, prefix: String = ""
    ) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// Settings with fixed keys.
    public init(
        endpoint: URL, region: String, accessKey: String, secretKey: String, sessionToken: String? = nil,
        bucket: String, prefix: String = ""
    ) {
        self.init(endpoint: endpoint, region: region,
                  credentials: StaticCredentials(accessKey: accessKey, secretKey: secretKey, sessionToken: sessionToken),
                  bucket: bucket, prefix: prefix)
    }

    /// Settings for the blob-store URL `s3://bucket/prefix`, with credentials, region and endpoint resolved as the
    /// AWS CLI resolves them: environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`), then the profile
    /// `AWS_PROFILE` (else `default`) of `~/.aws/credentials` and `~/.aws/config`; region from `AWS_REGION`,
    /// `AWS_DEFAULT_REGION` or the profile (else us-east-1); endpoint from `AWS_ENDPOINT_URL_S3`, the profile's
    /// services section, `AWS_ENDPOINT_URL` or the profile's `endpoint_url` (else AWS's regional endpoint). The
    /// order and every variable are described on ``AWSConfiguration``.
    ///
    /// Reads the shared files but contacts nothing: web identity assumes its role on the first request. Throws
    /// `.credentials` when no source has credentials (the hint lists what was tried) or `AWS_PROFILE` names a
    /// missing profile, and `.configuration` for a malformed file or endpoint.
    public static func fromEnvironment(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> S3Settings {
        let (bucket, prefix) = try parse(url: url)
        let aws = try AWSConfiguration(environment: environment)
        let region = aws.region
        let endpointText = aws.endpoint(service: "s3") ?? "https://s3.\(region).amazonaws.com"
        let endpoint = try parse(endpoint: endpointText)
        var settings = S3Settings(endpoint: endpoint, region: region, credentials: try aws.credentialProvider(for: url),
                                  bucket: bucket, prefix: prefix)
        try settings.applyTimeouts(environment: environment)
        return settings
    }

    /// Takes the retry window and timeouts from the environment when set: `QUIVER_S3_RETRY_SECONDS` (how long
    /// failed requests are retried, 0-3600, default 30), `QUIVER_S3_CONNECT_TIMEOUT` (seconds to connect, default
    /// 10) and `QUIVER_S3_STALL_TIMEOUT` (seconds without a byte before a request is abandoned, default 60).
    public mutating func applyTimeouts(environment: [String: String]) throws {
        retry = try RetryPolicy.fromEnvironment(environment, base: retry)
        if let value = try Self.seconds(environment, "QUIVER_S3_CONNECT_TIMEOUT") { connectTimeout = max(value, 0.1) }
        if let value = try Self.seconds(environment, "QUIVER_S3_STALL_TIMEOUT") { stallTimeout = max(Int(value.rounded(.up)), 1) }
    }

    private static func seconds(_ environment: [String: String], _ name: String) throws -> Double? {
        guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let value = Double(text), value.isFinite, value > 0, value <= 3600 else {
            throw ObjectStoreError(.configuration, "\(name)=\(text.prefix(40)) is not a number of seconds from 0 to 3600",
                                   hint: "write e.g. \(name)=10")
        }
        return value
    }

    /// Splits `s3://bucket/some/prefix` into bucket and prefix.
    public static func parse(url: String) throws -> (bucket: String, prefix: String) {
        guard url.hasPrefix("s3://") else {
            throw ObjectStoreError(.configuration, "\(url) is not an s3:// URL", hint: "write s3://bucket or s3://bucket/prefix")
        }
        let rest = url.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = rest.dropFirst(bucket.count).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(bucket.count), bucket.unicodeScalars.allSatisfy(allowed.contains) else {
            throw ObjectStoreError(.configuration, "\(url) does not name a valid bucket",
                                   hint: "bucket names are 3-63 characters of a-z, 0-9, '.' and '-'")
        }
        return (bucket, prefix)
    }

    /// Checks an endpoint URL and reduces it to scheme, host and port; `variable` names the setting in the hint.
    public static func parse(endpoint text: String, variable: String = "AWS_ENDPOINT_URL_S3") throws -> URL {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ObjectStoreError(.configuration, "S3 endpoint \(text) is not an http(s) URL",
                                   hint: "set \(variable) (or endpoint_url in the AWS profile) to something like http://127.0.0.1:8333")
        }
        var clean = URLComponents()
        clean.scheme = scheme
        clean.host = host
        clean.port = components.port
        guard let url = clean.url else {
            throw ObjectStoreError(.configuration, "S3 endpoint \(text) is not a valid URL")
        }
        return url
    }

    /// The `Host` header value: the host, plus the port when it is not the scheme's default.
    var hostHeader: String {
        let host = endpoint.host ?? ""
        guard let port = endpoint.port else { return host }
        let isDefault = (endpoint.scheme == "http" && port == 80) || (endpoint.scheme == "https" && port == 443)
        return isDefault ? host : "\(host):\(port)"
    }

    /// `s3://bucket/prefix`, for messages.
    public var displayURL: String { prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)" }
}
