import Crypto
import Foundation

/// AWS Signature Version 4 for S3, computed in Swift on swift-crypto.
///
/// We sign ourselves rather than use `CURLOPT_AWS_SIGV4` because Debian's curl 7.88.1 signer has six known
/// bugs (no `x-amz-content-sha256`, raw unsorted query, unencoded path, removal headers signed, duplicate
/// `X-Amz-Date`, wrong header sort) whose workarounds would silently change meaning on newer curls (8.x
/// canonicalizes the query and adds `UNSIGNED-PAYLOAD` itself). A pure signer behaves the same with every curl,
/// and is checked against AWS's published example vectors in unit tests.
public struct SigV4Signer: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?
    public var region: String
    public var service: String

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
    }

    /// The payload hash of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The payload hash for bodies not hashed in advance (multipart parts); the transport is trusted.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Signs one request and returns every header to send (the given ones plus `host`, `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token` when set, and `authorization`).
    ///
    /// - Parameters:
    ///   - path: the URI path, already percent-encoded exactly as it goes on the wire (S3 does not re-encode).
    ///   - query: the query as sent, already canonical (see ``canonicalQuery(_:)``).
    ///   - headers: extra headers to sign (names are lower-cased here).
    public func sign(
        method: String, host: String, path: String, query: String, headers: [(String, String)],
        payloadHash: String, date: Date
    ) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var all = headers.map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }
        all.append(("host", host))
        all.append(("x-amz-date", amzDate))
        all.append(("x-amz-content-sha256", payloadHash))
        if let sessionToken { all.append(("x-amz-security-token", sessionToken)) }
        all.sort { $0.0 < $1.0 }
        let signedHeaders = all.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, query,
            all.map { "\($0.0):\($0.1)\n" }.joined(), signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        all.append(("authorization",
                    "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return all
    }

    /// The canonical query of a presigned URL (AWS "query-parameter authentication"): anyone holding the URL may
    /// send `method` to `path` on `host` until `expires` seconds after `date`, and nothing else (the path, the
    /// query and the host are signed; the payload is `UNSIGNED-PAYLOAD`).
    ///
    /// - Parameters:
    ///   - path: the URI path exactly as it goes on the wire (percent-encoded).
    ///   - expires: seconds the URL is valid, 1…604800 (S3's limit is seven days).
    public func presignedQuery(method: String, host: String, path: String, expires: Int, date: Date) -> String {
        let (amzDate, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var items: [(String, String)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(accessKey)/\(scope)"),
            ("X-Amz-Date", amzDate), ("X-Amz-Expires", String(min(max(expires, 1), 604_800))), ("X-Amz-SignedHeaders", "host"),
        ]
        if let sessionToken { items.append(("X-Amz-Security-Token", sessionToken)) }
        let query = Self.canonicalQuery(items)
        let canonicalRequest = [method, path.isEmpty ? "/" : path, query, "host:\(host)\n", "host", Self.unsignedPayload]
            .joined(separator: "\n")
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        return query + "&X-Amz-Signature=" + Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
    }

    private func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// A query string in SigV4 canonical form: keys sorted, keys and values percent-encoded (upper-case hex),
    /// valueless keys written `key=`. Send exactly this string so the signed and the sent query agree.
    public static func canonicalQuery(_ items: [(String, String)]) -> String {
        let encoded: [(key: String, value: String)] = items.map { (uriEncode($0.0), uriEncode($0.1)) }
        let sorted = encoded.sorted { a, b in a.key == b.key ? a.value < b.value : a.key < b.key }
        return sorted.map { pair in pair.key + "=" + pair.value }.joined(separator: "&")
    }

    /// Percent-encodes everything but the unreserved characters (and `/` when `keepSlash`), as SigV4 requires.
    public static func uriEncode(_ string: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in string.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == 0x2F) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: return true  // A-Z a-z 0-9
        case 0x2D, 0x2E, 0x5F, 0x7E: return true  // - . _ ~
        default: return false
        }
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd` in UTC, without DateFormatter (not thread-safe to share).
    static func timestamps(_ date: Date) -> (String, String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let day = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2)
        return (day + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z", day)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
