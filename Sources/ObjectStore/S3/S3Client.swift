import CCurl
import Foundation
import QuiverCore

/// A minimal S3 client over libcurl: signed, retried object requests on keys inside one bucket and prefix.
///
/// Every method blocks its thread for the duration of the transfer. ``S3BlobStore`` adds content addressing
/// on top; tests and tools use the client directly for raw object access.
public final class S3Client: Sendable {
    public let settings: S3Settings
    let handles = CurlHandlePool()

    /// Requests are signed with what `settings.credentials` answers at the time, so temporary credentials are
    /// refreshed while the client lives.
    public init(settings: S3Settings) {
        self.settings = settings
    }

    /// The object key for a key relative to the prefix.
    func objectKey(_ key: String) -> String { settings.prefix.isEmpty ? key : settings.prefix + "/" + key }

    /// `/<bucket>/<key>` with the key percent-encoded once (slashes kept), as S3 canonicalizes it.
    func path(forObjectKey key: String?) -> String {
        guard let key else { return "/" + settings.bucket }
        return "/" + settings.bucket + "/" + SigV4Signer.uriEncode(key, keepSlash: true)
    }

    /// Where a key lives, for messages.
    func describe(_ key: String?) -> String {
        key.map { "s3://\(settings.bucket)/\($0)" } ?? "s3://\(settings.bucket)"
    }

    /// A presigned URL for `method` on `objectKey`, valid `expires` seconds, on `endpoint` (the address clients
    /// reach the store at; the client's own endpoint by default). Signed with the credentials current now, so a
    /// URL made from temporary credentials stops working when they expire.
    public func presignedURL(method: String = "GET", objectKey: String, expires: Int, endpoint: URL? = nil) throws -> String {
        var target = settings
        if let endpoint { target.endpoint = endpoint }
        let path = path(forObjectKey: objectKey)
        let credentials = try settings.credentials.credentials()
        let signer = SigV4Signer(accessKey: credentials.accessKey, secretKey: credentials.secretKey,
                                 sessionToken: credentials.sessionToken, region: settings.region)
        let query = signer.presignedQuery(method: method, host: target.hostHeader, path: path, expires: expires, date: Date())
        return target.endpoint.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path + "?" + query
    }

    /// Sends one request with retries and returns the final response, whatever its status (callers map
    /// statuses to errors with ``failure(_:key:)``).
    ///
    /// - Parameters:
    ///   - objectKey: the full object key (prefix included), or nil for a bucket-level request.
    ///   - query: the query items; sent in canonical order.
    ///   - payloadHash: the body's hex sha256 or `UNSIGNED-PAYLOAD`; the empty hash when there is no body.
    func send(
        _ method: String, objectKey: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: HTTPRequest.Body = .none, payloadHash: String = SigV4Signer.emptyPayloadHash,
        sink: (any ResponseSink)? = nil, retry: RetryPolicy? = nil
    ) throws -> HTTPResponse {
        let path = path(forObjectKey: objectKey)
        let queryString = SigV4Signer.canonicalQuery(query)
        let base = settings.endpoint.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let url = base + path + (queryString.isEmpty ? "" : "?" + queryString)
        let options = HTTPTransfer.Options(connectTimeout: settings.connectTimeout, stallTimeout: settings.stallTimeout)
        let policy = retry ?? settings.retry
        let started = Date()
        var attempt = 0
        while true {
            attempt += 1
            try sink?.reset()
            let credentials = try settings.credentials.credentials()
            let signer = SigV4Signer(accessKey: credentials.accessKey, secretKey: credentials.secretKey,
                                     sessionToken: credentials.sessionToken, region: settings.region)
            let signed = signer.sign(method: method, host: settings.hostHeader, path: path, query: queryString,
                                     headers: headers, payloadHash: payloadHash, date: Date())
            let request = HTTPRequest(method: method, url: url, headers: signed, body: body)
            let result = try handles.withHandle { HTTPTransfer.perform(request, on: $0, sink: sink, options: options) }
            let failure: String
            var timedOut = false
            switch result {
            case .success(let response):
                if !RetryPolicy.isRetryable(.status(response.status)) { return response }
                failure = "HTTP \(response.status)"
            case .failure(let transport):
                if let local = transport.localError { throw local }
                failure = transport.message
                timedOut = transport.timedOut
            }
            // A streamed body partly sent, or a response partly handed to the caller, cannot be replayed.
            if !body.canRestart || !(sink?.canRestart ?? true) {
                let what = body.canRestart ? "part of the response was already delivered"
                    : "\(body.consumed ?? 0) bytes of its streamed body were already sent"
                throw ObjectStoreError(
                    .unreachable, "\(method) \(describe(objectKey)) at \(settings.endpoint.absoluteString) failed (\(failure)) after \(what), so it cannot be retried",
                    hint: "the transfer must be started again from the beginning (a client re-sends its upload or re-reads the blob)")
            }
            if let wait = policy.delay(afterAttempt: attempt, elapsed: -started.timeIntervalSinceNow,
                                       random: Double.random(in: 0..<1)) {
                Thread.sleep(forTimeInterval: wait)
                continue
            }
            if case .success(let response) = result { return response }  // out of retries: the caller reports the 5xx
            if timedOut {
                throw ObjectStoreError(
                    .timeout,
                    "\(method) \(describe(objectKey)) at \(settings.endpoint.absoluteString) timed out after \(attempt) attempt(s) in \(String(format: "%.1f", -started.timeIntervalSinceNow)) s: \(failure)",
                    hint: "the S3 endpoint accepts connections but does not answer; check the server (QUIVER_S3_STALL_TIMEOUT sets how long a silent request is waited for, QUIVER_S3_RETRY_SECONDS how long failures are retried)")
            }
            throw ObjectStoreError(
                .unreachable,
                "\(method) \(describe(objectKey)) at \(settings.endpoint.absoluteString) failed after \(attempt) attempt(s) in \(String(format: "%.1f", -started.timeIntervalSinceNow)) s: \(failure)",
                hint: "check that the S3 endpoint (AWS_ENDPOINT_URL_S3) is right and the server is running (failures are retried for QUIVER_S3_RETRY_SECONDS, default 30)")
        }
    }

    /// The named error for a non-success response.
    func failure(_ response: HTTPResponse, key: String?, method: String) -> ObjectStoreError {
        let xml = Substring(String(decoding: response.body, as: UTF8.self))
        let code = XMLScan.value("Code", in: xml) ?? ""
        let message = XMLScan.value("Message", in: xml) ?? ""
        let detail = "\(method) \(describe(key)) → HTTP \(response.status)"
            + (code.isEmpty ? "" : " \(code)") + (message.isEmpty ? "" : ": \(message)")
        switch (response.status, code) {
        case (_, "NoSuchBucket"):
            return ObjectStoreError(.bucketMissing, detail,
                                    hint: "create bucket \(settings.bucket) at \(settings.endpoint.absoluteString) (`quiver blob mb`) or fix the blob-store URL")
        case (403, _), (_, "InvalidAccessKeyId"), (_, "SignatureDoesNotMatch"), (_, "AccessDenied"):
            return ObjectStoreError(.credentials, detail, hint: "check the credentials from \(settings.credentials.source)")
        case (404, _):
            return ObjectStoreError(.notFound, detail)
        case (416, _):
            return ObjectStoreError(.rangeNotSatisfiable, detail, hint: "ask for a range that starts before the blob's size")
        default:
            return ObjectStoreError(.serverError, detail,
                                    hint: response.status >= 500 ? "the S3 server failed; retry later or check its logs" : "")
        }
    }

    // MARK: Object operations (keys relative to the prefix)

    /// PUTs `length` bytes of a file (streamed, never loaded) or in-memory data as one object.
    public func putObject(key: String, data: Data) throws {
        try putObject(key: key, body: .data(data), payloadHash: SHA256Digest.of(data).hex)
    }

    func putObject(key: String, body: HTTPRequest.Body, payloadHash: String) throws {
        let full = objectKey(key)
        let response = try send("PUT", objectKey: full, body: body, payloadHash: payloadHash)
        guard (200..<300).contains(response.status) else { throw failure(response, key: full, method: "PUT") }
    }

    /// The object's size and last modification, or nil when absent.
    public func headObject(key: String, retry: RetryPolicy? = nil) throws -> (size: Int64, lastModified: Date)? {
        let full = objectKey(key)
        let response = try send("HEAD", objectKey: full, retry: retry)
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw failure(response, key: full, method: "HEAD") }
        let size = response.headers["content-length"].flatMap { Int64($0) } ?? 0
        let modified = response.headers["last-modified"].flatMap(HTTPDate.parseRFC1123) ?? Date(timeIntervalSince1970: 0)
        return (size, modified)
    }

    /// Streams the object (or `range` of it) into `sink`; 404 → `.notFound`.
    func getObject(key: String, range: Range<Int64>? = nil, sink: any ResponseSink) throws -> HTTPResponse {
        let full = objectKey(key)
        var headers: [(String, String)] = []
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        let response = try send("GET", objectKey: full, headers: headers, sink: sink)
        guard (200..<300).contains(response.status) else { throw failure(response, key: full, method: "GET") }
        return response
    }

    /// The object's bytes, unverified (raw access for tools and tests).
    public func getObjectData(key: String) throws -> Data {
        let sink = DataSink()
        _ = try getObject(key: key, sink: sink)
        return sink.data
    }

    /// Deletes the object; absent objects are not an error.
    public func deleteObject(key: String) throws {
        let full = objectKey(key)
        let response = try send("DELETE", objectKey: full)
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, key: full, method: "DELETE")
        }
    }

    /// Creates the bucket unless it already exists (used by tests, the demo and first-run set-up).
    public func createBucketIfMissing() throws {
        let response = try send("PUT", objectKey: nil, body: .data(Data()))
        if (200..<300).contains(response.status) { return }
        let code = XMLScan.value("Code", in: Substring(String(decoding: response.body, as: UTF8.self)))
        if response.status == 409, code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" { return }
        throw failure(response, key: nil, method: "PUT bucket")
    }

    /// Whether the bucket exists (HEAD on the bucket); 403 is the credentials error, as for objects.
    public func bucketExists() throws -> Bool {
        let response = try send("HEAD", objectKey: nil)
        if response.status == 404 { return false }
        guard (200..<300).contains(response.status) else { throw failure(response, key: nil, method: "HEAD bucket") }
        return true
    }

    /// The error for a bucket found missing without an error document to name it (a HEAD has no body).
    func bucketMissingError(method: String, key: String?) -> ObjectStoreError {
        ObjectStoreError(.bucketMissing, "\(method) \(describe(key)) → HTTP 404: bucket \(settings.bucket) does not exist",
                         hint: "create bucket \(settings.bucket) at \(settings.endpoint.absoluteString) (`quiver blob mb`) or fix the blob-store URL")
    }

    /// Deletes the (empty) bucket; used by tests to clean up buckets they created.
    public func deleteBucket() throws {
        let response = try send("DELETE", objectKey: nil)
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, key: nil, method: "DELETE bucket")
        }
    }
}

/// Collects a response body in memory.
final class DataSink: ResponseSink {
    var data = Data()
    func reset() { data = Data() }
    func write(_ bytes: UnsafeRawBufferPointer) { data.append(contentsOf: bytes) }
}
