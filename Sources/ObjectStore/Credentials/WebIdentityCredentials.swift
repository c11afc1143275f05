import Foundation
import Synchronization

/// Temporary credentials for a role assumed with a web identity token (Kubernetes service-account tokens, GitHub
/// Actions OIDC): STS `AssumeRoleWithWebIdentity`, an unsigned POST, whose answer is kept until
/// ``refreshMargin`` before it expires and then fetched again, with the token file re-read (it is rotated).
///
/// Thread-safe: many threads ask at once; one refreshes while the others wait for its result. When a refresh
/// fails but the keys in hand are still valid for a while, they are used and the refresh is tried again on the
/// next request.
public final class WebIdentityCredentials: S3CredentialProvider {
    public let roleARN: String
    public let tokenFile: String
    public let sessionName: String
    /// The STS endpoint: scheme, host and port.
    public let endpoint: URL
    /// Keys are refreshed when they expire in less than this (seconds).
    public let refreshMargin: TimeInterval
    let retry: RetryPolicy
    let connectTimeout: Double
    /// The clock expiry is measured with (tests move it).
    let now: @Sendable () -> Date

    private let cached = Mutex<S3Credentials?>(nil)
    /// Held while a refresh runs; counts the refreshes that reached STS and succeeded (for tests and diagnostics).
    private let refreshes = Mutex<Int>(0)
    private let handles = CurlHandlePool(limit: 2)

    public convenience init(roleARN: String, tokenFile: String, sessionName: String, endpoint: URL,
                refreshMargin: TimeInterval = 5 * 60, retry: RetryPolicy = .standard, connectTimeout: Double = 10)
    {
        self.init(roleARN: roleARN, tokenFile: tokenFile, sessionName: sessionName, endpoint: endpoint,
                  refreshMargin: refreshMargin, retry: retry, connectTimeout: connectTimeout, now: { Date() })
    }

    init(roleARN: String, tokenFile: String, sessionName: String, endpoint: URL, refreshMargin: TimeInterval,
         retry: RetryPolicy, connectTimeout: Double, now: @escaping @Sendable () -> Date)
    {
        self.roleARN = roleARN
        self.tokenFile = tokenFile
        self.sessionName = sessionName
        self.endpoint = endpoint
        self.refreshMargin = refreshMargin
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.now = now
    }

    public var source: String { "web identity (role \(roleARN), token file \(tokenFile), STS at \(endpoint.absoluteString))" }

    /// How many times keys were fetched from STS.
    public var refreshCount: Int { refreshes.withLock { $0 } }

    public func credentials() throws -> S3Credentials {
        if let current = cached.withLock({ $0 }), isFresh(current) { return current }
        return try refreshes.withLock { count in
            // Another thread may have refreshed while this one waited for the lock.
            if let current = cached.withLock({ $0 }), isFresh(current) { return current }
            do {
                let fresh = try assumeRole()
                cached.withLock { $0 = fresh }
                count += 1
                return fresh
            } catch {
                if let current = cached.withLock({ $0 }), let expiry = current.expiration, expiry > now().addingTimeInterval(30) {
                    return current
                }
                throw error
            }
        }
    }

    private func isFresh(_ credentials: S3Credentials) -> Bool {
        guard let expiry = credentials.expiration else { return true }
        return expiry.timeIntervalSince(now()) > refreshMargin
    }

    /// One `AssumeRoleWithWebIdentity` call, retried on transport failures, 5xx and `IDPCommunicationError`.
    private func assumeRole() throws -> S3Credentials {
        let token = try readToken()
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("RoleArn", roleARN), ("RoleSessionName", sessionName),
            ("Version", "2011-06-15"), ("WebIdentityToken", token),
        ].map { SigV4Signer.uriEncode($0.0) + "=" + SigV4Signer.uriEncode($0.1) }.joined(separator: "&")
        let request = HTTPRequest(
            method: "POST", url: endpoint.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/",
            headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")], body: .data(Data(form.utf8)))
        let options = HTTPTransfer.Options(connectTimeout: connectTimeout, stallTimeout: 30)
        let started = Date()
        var attempt = 0
        while true {
            attempt += 1
            let result = try handles.withHandle { HTTPTransfer.perform(request, on: $0, sink: nil, options: options) }
            let problem: String
            switch result {
            case .success(let response):
                let xml = Substring(String(decoding: response.body, as: UTF8.self))
                if (200..<300).contains(response.status) { return try parse(xml) }
                let code = XMLScan.value("Code", in: xml) ?? ""
                let message = XMLScan.value("Message", in: xml) ?? ""
                problem = "HTTP \(response.status)" + (code.isEmpty ? "" : " \(code)") + (message.isEmpty ? "" : ": \(message)")
                guard response.status >= 500 || response.status == 429 || code == "IDPCommunicationError" else {
                    throw ObjectStoreError(
                        .credentials, "AssumeRoleWithWebIdentity for \(roleARN) at \(endpoint.absoluteString) → \(problem)",
                        hint: "check AWS_ROLE_ARN, that the role trusts the token's issuer, and that the token in \(tokenFile) is current")
                }
            case .failure(let failure):
                if let local = failure.localError { throw local }
                problem = failure.message
            }
            if let wait = retry.delay(afterAttempt: attempt, elapsed: -started.timeIntervalSinceNow, random: Double.random(in: 0..<1)) {
                Thread.sleep(forTimeInterval: wait)
                continue
            }
            throw ObjectStoreError(
                .unreachable,
                "AssumeRoleWithWebIdentity for \(roleARN) at \(endpoint.absoluteString) failed after \(attempt) attempt(s): \(problem)",
                hint: "check that the STS endpoint (AWS_ENDPOINT_URL_STS) is right and reachable")
        }
    }

    private func readToken() throws -> String {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw ObjectStoreError(.credentials, "cannot read the web identity token file \(tokenFile)",
                                   hint: "AWS_WEB_IDENTITY_TOKEN_FILE must name a readable file (Kubernetes projects it into the pod)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw ObjectStoreError(.credentials, "the web identity token file \(tokenFile) is empty",
                                   hint: "AWS_WEB_IDENTITY_TOKEN_FILE must hold the identity provider's token")
        }
        return token
    }

    /// The credentials of an `AssumeRoleWithWebIdentityResponse`.
    func parse(_ xml: Substring) throws -> S3Credentials {
        let block = XMLScan.elements("Credentials", in: xml).first ?? xml
        guard let access = XMLScan.value("AccessKeyId", in: block), !access.isEmpty,
              let secret = XMLScan.value("SecretAccessKey", in: block), !secret.isEmpty,
              let token = XMLScan.value("SessionToken", in: block), !token.isEmpty
        else {
            throw ObjectStoreError(.serverError, "AssumeRoleWithWebIdentity at \(endpoint.absoluteString) answered without credentials",
                                   hint: "check that AWS_ENDPOINT_URL_STS points at an STS service")
        }
        let expiration = XMLScan.value("Expiration", in: block).flatMap(HTTPDate.parseISO8601)
        return S3Credentials(accessKey: access, secretKey: secret, sessionToken: token,
                             expiration: expiration ?? now().addingTimeInterval(15 * 60))
    }
}
