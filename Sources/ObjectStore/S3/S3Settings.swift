import Foundation

/// Where an S3 blob store lives and how to reach it.
public struct S3Settings: Sendable {
    /// Scheme, host and port only (`http://127.0.0.1:8333`); requests are path-style (`/<bucket>/<key>`).
    public var endpoint: URL
    public var region: String
    public var accessKey: String
    public var secretKey: String
    /// Temporary credentials' token, sent as `x-amz-security-token`.
    public var sessionToken: String?
    public var bucket: String
    /// A folder inside the bucket, without leading or trailing slash ("" for the bucket's root).
    public var prefix: String
    /// Files larger than this go up as multipart uploads, and blobs larger than this come down as parallel ranges.
    public var multipartThreshold: Int64 = 64 << 20
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
        endpoint: URL, region: String, accessKey: String, secretKey: String, sessionToken: String? = nil,
        bucket: String, prefix: String = ""
    ) {
        self.endpoint = endpoint
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// Settings for the blob-store URL `s3://bucket/prefix`, with credentials, region and endpoint from the
    /// standard AWS variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`
    /// (or `AWS_DEFAULT_REGION`, else us-east-1), `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`, else AWS's
    /// regional endpoint).
    public static func fromEnvironment(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> S3Settings {
        let (bucket, prefix) = try parse(url: url)
        func value(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        guard let access = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") else {
            throw ObjectStoreError(.credentials, "no S3 credentials for \(url)",
                                   hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        let region = value("AWS_REGION", "AWS_DEFAULT_REGION") ?? "us-east-1"
        let endpointText = value("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") ?? "https://s3.\(region).amazonaws.com"
        let endpoint = try parse(endpoint: endpointText)
        return S3Settings(endpoint: endpoint, region: region, accessKey: access, secretKey: secret,
                          sessionToken: value("AWS_SESSION_TOKEN"), bucket: bucket, prefix: prefix)
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

    /// Checks an endpoint URL and reduces it to scheme, host and port.
    public static func parse(endpoint text: String) throws -> URL {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ObjectStoreError(.configuration, "S3 endpoint \(text) is not an http(s) URL",
                                   hint: "set AWS_ENDPOINT_URL_S3 to something like http://127.0.0.1:8333")
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
