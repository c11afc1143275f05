import Foundation
@testable import ObjectStore
import QuiverCore
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("waits grow exponentially up to the cap, scaled by jitter")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: 0.1, maxDelay: 1, maxTotal: 100)
        #expect(policy.delay(afterAttempt: 1, elapsed: 0, random: 1) == 0.1)
        #expect(policy.delay(afterAttempt: 2, elapsed: 0, random: 1) == 0.2)
        #expect(policy.delay(afterAttempt: 3, elapsed: 0, random: 1) == 0.4)
        #expect(policy.delay(afterAttempt: 6, elapsed: 0, random: 1) == 1)
        #expect(policy.delay(afterAttempt: 3, elapsed: 0, random: 0.5) == 0.2)
        #expect(policy.delay(afterAttempt: 3, elapsed: 0, random: 0) == 0)
    }

    @Test("gives up after maxAttempts and when the total time would be exceeded")
    func bounds() {
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: 1, maxDelay: 10, maxTotal: 5)
        #expect(policy.delay(afterAttempt: 2, elapsed: 0, random: 0.5) != nil)
        #expect(policy.delay(afterAttempt: 3, elapsed: 0, random: 0.5) == nil)
        #expect(policy.delay(afterAttempt: 1, elapsed: 4.5, random: 1) == nil)
        #expect(policy.delay(afterAttempt: 1, elapsed: 4.5, random: 0.4) == 0.4)
        #expect(RetryPolicy(maxAttempts: 0).maxAttempts == 1)
    }

    @Test("the standard policy keeps retrying a refused endpoint for well over 5 s, and stops by 30 s (defect 11)")
    func standardWindowOutlastsARestart() {
        let policy = RetryPolicy.standard
        // Even with the least lucky jitter (waits near zero) the attempts are not spent within 5 s of real waits:
        // attempts that fail at once leave the elapsed time to the waits, so sum the ceilings with random = 1 / 2.
        var elapsed = 0.0
        var attempt = 1
        while let wait = policy.delay(afterAttempt: attempt, elapsed: elapsed, random: 0.5) {
            elapsed += wait
            attempt += 1
        }
        #expect(elapsed > 10, "half-jitter waits cover \(elapsed) s")
        #expect(elapsed <= 30)
        #expect(policy.delay(afterAttempt: 1, elapsed: 29.9, random: 1) == nil)
    }

    @Test("QUIVER_S3_RETRY_SECONDS sets the window; 0 turns retries off; garbage is a configuration error")
    func windowFromEnvironment() throws {
        #expect(try RetryPolicy.fromEnvironment([:]) == .standard)
        #expect(try RetryPolicy.fromEnvironment(["QUIVER_S3_RETRY_SECONDS": "5"]).maxTotal == 5)
        let off = try RetryPolicy.fromEnvironment(["QUIVER_S3_RETRY_SECONDS": "0"])
        #expect(off.maxAttempts == 1 && off.delay(afterAttempt: 1, elapsed: 0, random: 0) == nil)
        for bad in ["soon", "-1", "nan", "1e9"] {
            let error = #expect(throws: ObjectStoreError.self) { try RetryPolicy.fromEnvironment(["QUIVER_S3_RETRY_SECONDS": bad]) }
            #expect(error?.kind == .configuration)
        }
        var settings = S3Settings(endpoint: URL(string: "http://127.0.0.1:1")!, region: "us-east-1",
                                  accessKey: "a", secretKey: "b", bucket: "bucket")
        try settings.applyTimeouts(environment: ["QUIVER_S3_STALL_TIMEOUT": "5", "QUIVER_S3_CONNECT_TIMEOUT": "2.5"])
        #expect(settings.stallTimeout == 5 && settings.connectTimeout == 2.5)
        #expect(throws: ObjectStoreError.self) { try settings.applyTimeouts(environment: ["QUIVER_S3_STALL_TIMEOUT": "0"]) }
    }

    @Test("retries transport failures, 5xx and 429, not other 4xx")
    func retryable() {
        #expect(RetryPolicy.isRetryable(.transport))
        #expect(RetryPolicy.isRetryable(.status(503)))
        #expect(RetryPolicy.isRetryable(.status(429)))
        #expect(!RetryPolicy.isRetryable(.status(403)))
        #expect(!RetryPolicy.isRetryable(.status(404)))
        #expect(!RetryPolicy.isRetryable(.status(200)))
    }
}

@Suite("SigV4 signer")
struct SigV4SignerTests {
    // AWS's published S3 SigV4 examples ("Signature Calculations for the Authorization Header"): credentials,
    // date and expected signatures come from that page.
    let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    func authorization(_ headers: [(String, String)]) -> String {
        headers.first { $0.0 == "authorization" }?.1 ?? ""
    }

    @Test("GET object with a Range header")
    func getObject() {
        let headers = signer.sign(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: "",
                                  headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("a presigned GET (AWS's query-parameter authentication example)")
    func presignedGet() {
        let query = signer.presignedQuery(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", expires: 86_400, date: date)
        #expect(query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("list objects with a canonical query")
    func listObjects() {
        let query = SigV4Signer.canonicalQuery([("prefix", "J"), ("max-keys", "2")])
        #expect(query == "max-keys=2&prefix=J")
        let headers = signer.sign(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: query,
                                  headers: [], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers).hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test("query and path encoding follow SigV4's rules")
    func encoding() {
        #expect(SigV4Signer.canonicalQuery([("uploads", "")]) == "uploads=")
        #expect(SigV4Signer.canonicalQuery([("uploadId", "a/b+c"), ("partNumber", "3")]) == "partNumber=3&uploadId=a%2Fb%2Bc")
        #expect(SigV4Signer.uriEncode("odd prefix+é/x=y", keepSlash: true) == "odd%20prefix%2B%C3%A9/x%3Dy")
        #expect(SigV4Signer.uriEncode("a-b_c.d~e") == "a-b_c.d~e")
        #expect(SigV4Signer.timestamps(date) == ("20130524T000000Z", "20130524"))
    }

    @Test("a session token is sent and signed")
    func sessionToken() {
        var withToken = signer
        withToken.sessionToken = "TOKEN"
        let headers = withToken.sign(method: "GET", host: "h", path: "/b/k", query: "", headers: [],
                                     payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(headers.contains { $0 == ("x-amz-security-token", "TOKEN") })
        #expect(authorization(headers).contains("x-amz-security-token"))
    }
}

@Suite("S3 response parsing and settings")
struct S3ParsingTests {
    @Test("ListObjectsV2 elements, entities, and Key not confused with KeyCount")
    func listXML() {
        let xml: Substring = """
        <?xml version="1.0"?><ListBucketResult><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
        <Contents><Key>p/sha256/ab</Key><LastModified>2024-05-01T12:34:56.250Z</LastModified><Size>42</Size></Contents>
        <Contents><Key>a&amp;b</Key><Size>0</Size></Contents><NextContinuationToken>tok/+=</NextContinuationToken><Empty/></ListBucketResult>
        """
        #expect(XMLScan.values("Key", in: xml) == ["p/sha256/ab", "a&b"])
        #expect(XMLScan.value("KeyCount", in: xml) == "2")
        #expect(XMLScan.elements("Contents", in: xml).count == 2)
        #expect(XMLScan.value("NextContinuationToken", in: xml) == "tok/+=")
        #expect(XMLScan.value("Empty", in: xml) == "")
        #expect(XMLScan.value("Missing", in: xml) == nil)
    }

    @Test("S3 date formats")
    func dates() {
        #expect(HTTPDate.parseISO8601("2024-05-01T12:34:56.250Z")?.timeIntervalSince1970 == 1_714_566_896.25)
        #expect(HTTPDate.parseISO8601("2024-05-01T12:34:56Z")?.timeIntervalSince1970 == 1_714_566_896)
        #expect(HTTPDate.parseRFC1123("Wed, 01 May 2024 12:34:56 GMT")?.timeIntervalSince1970 == 1_714_566_896)
        #expect(HTTPDate.parseISO8601("yesterday") == nil)
        #expect(HTTPDate.parseRFC1123("Wed, 01 Foo 2024 12:34:56 GMT") == nil)
    }

    @Test("settings from the AWS environment variables")
    func settings() throws {
        let settings = try S3Settings.fromEnvironment(url: "s3://my-bucket/some/prefix/", environment: [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST",
            "AWS_DEFAULT_REGION": "eu-west-3", "AWS_ENDPOINT_URL": "http://127.0.0.1:8333/ignored",
        ])
        #expect(settings.bucket == "my-bucket")
        #expect(settings.prefix == "some/prefix")
        #expect(settings.region == "eu-west-3")
        #expect(try settings.credentials.credentials().sessionToken == "ST")
        #expect(settings.credentials.source == "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        #expect(settings.endpoint.absoluteString == "http://127.0.0.1:8333")
        #expect(settings.hostHeader == "127.0.0.1:8333")

        let aws = try S3Settings.fromEnvironment(url: "s3://bucket", environment: [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_REGION": "us-west-2",
            "AWS_ENDPOINT_URL": "http://ignored:1", "AWS_ENDPOINT_URL_S3": "https://s3.example.com",
        ])
        #expect(aws.endpoint.absoluteString == "https://s3.example.com")
        #expect(aws.hostHeader == "s3.example.com")
        #expect(aws.prefix == "")

        let noKeys = #expect(throws: ObjectStoreError.self) { try S3Settings.fromEnvironment(url: "s3://bucket", environment: [:]) }
        #expect(noKeys?.kind == .credentials)
        let badBucket = #expect(throws: ObjectStoreError.self) { try S3Settings.parse(url: "s3://No_Such") }
        #expect(badBucket?.kind == .configuration)
    }

    @Test("BlobStores.open picks the store from the URL")
    func factory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-open-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try BlobStores.open(url: directory.path) is LocalBlobStore)
        #expect(try BlobStores.open(url: directory.absoluteString) is LocalBlobStore)
        let s3 = try BlobStores.open(url: "s3://bucket/p", environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(s3.location == "s3://bucket/p")
        let bad = #expect(throws: ObjectStoreError.self) { try BlobStores.open(url: "gs://bucket") }
        #expect(bad?.kind == .configuration)
    }
}

@Suite("ListMultipartUploads parsing")
struct MultipartListParsingTests {
    func upload(_ key: String, _ id: String) -> String {
        "<Upload><Key>\(key)</Key><UploadId>\(id)</UploadId><Initiated>2024-05-01T12:34:56.000Z</Initiated></Upload>"
    }

    @Test("AWS pages carry both next markers; keys lose the client prefix")
    func awsPage() {
        let xml = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>p/sha256/b</NextKeyMarker>"
            + "<NextUploadIdMarker>u2</NextUploadIdMarker>" + upload("p/sha256/a", "u1") + upload("p/sha256/b", "u2")
            + "</ListMultipartUploadsResult>"
        let page = S3MultipartUploadPage.parse(Substring(xml), stripPrefixCount: 2)
        #expect(page.uploads.map(\.key) == ["sha256/a", "sha256/b"])
        #expect(page.uploads.map(\.uploadID) == ["u1", "u2"])
        #expect(page.uploads.first?.initiated == Date(timeIntervalSince1970: 1_714_566_896))
        #expect(page.next == S3MultipartMarkers(keyMarker: "p/sha256/b", uploadIDMarker: "u2"))
    }

    @Test("SeaweedFS pages carry only NextUploadIdMarker: no key marker is made up")
    func seaweedPage() {
        let xml = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><KeyMarker></KeyMarker>"
            + "<NextUploadIdMarker>u9</NextUploadIdMarker>" + upload("sha256/z", "u9") + "</ListMultipartUploadsResult>"
        let page = S3MultipartUploadPage.parse(Substring(xml), stripPrefixCount: 0)
        #expect(page.next == S3MultipartMarkers(keyMarker: nil, uploadIDMarker: "u9"))
    }

    @Test("a truncated page without markers continues after its last upload; a complete page has no next")
    func fallbacks() {
        let truncated = "<R><IsTruncated>true</IsTruncated>" + upload("k1", "a") + upload("k2", "b") + "</R>"
        #expect(S3MultipartUploadPage.parse(Substring(truncated), stripPrefixCount: 0).next
                == S3MultipartMarkers(keyMarker: "k2", uploadIDMarker: "b"))
        let last = "<R><IsTruncated>false</IsTruncated>" + upload("k1", "a") + "</R>"
        #expect(S3MultipartUploadPage.parse(Substring(last), stripPrefixCount: 0).next == nil)
    }

    @Test("the listing query is signed in canonical order with uploads written uploads=")
    func canonicalListQuery() {
        let query = SigV4Signer.canonicalQuery([
            ("uploads", ""), ("prefix", "p/sha256/"), ("max-uploads", "1000"), ("key-marker", "p/sha256/b"),
            ("upload-id-marker", "u_2"),
        ])
        #expect(query == "key-marker=p%2Fsha256%2Fb&max-uploads=1000&prefix=p%2Fsha256%2F&upload-id-marker=u_2&uploads=")
    }
}
