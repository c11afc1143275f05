import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// Behaviour specific to S3 against the real SeaweedFS: errors, multipart, bucket set-up.
@Suite("S3BlobStore against SeaweedFS")
struct S3BlobStoreTests {
    @Test("a wrong secret key gives the credentials error with the AWS variables hint")
    func wrongSecret() async throws {
        let server = try TestS3.require()
        var settings = try Stores.s3Settings(server)
        settings.credentials = StaticCredentials(accessKey: server.accessKey, secretKey: "not-the-secret",
                                                 source: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        let store = S3BlobStore(settings: settings)
        let error = await #expect(throws: ObjectStoreError.self) { try await store.put(data: Data("x".utf8)) }
        #expect(error?.kind == .credentials)
        #expect(error?.hint.contains("AWS_SECRET_ACCESS_KEY") == true)
    }

    @Test("nothing listening gives unreachable after the bounded number of attempts")
    func unreachable() async throws {
        // Port 1 on loopback: nothing listens there, so every connection is refused at once.
        var settings = S3Settings(endpoint: URL(string: "http://127.0.0.1:1")!, region: "us-east-1",
                                  accessKey: "a", secretKey: "b", bucket: "nowhere")
        settings.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.02, maxTotal: 2)
        let store = S3BlobStore(settings: settings)
        let error = await #expect(throws: ObjectStoreError.self) { try await store.getData(digest: SHA256Digest.of(Data())) }
        #expect(error?.kind == .unreachable)
        #expect(error?.reason.contains("127.0.0.1:1") == true)
        #expect(error?.reason.contains("3 attempt(s)") == true)
    }

    @Test("an upload outlasts a 5 s outage of the S3 endpoint with the standard retry policy (issue 12, defect 11)")
    func uploadRidesOutAFiveSecondOutage() async throws {
        let server = try TestS3.require()
        let target = try #require(URL(string: server.endpoint)?.port)
        // The store talks to a loopback port where nothing listens yet (connection refused, as while a gateway
        // restarts); 5 s later a relay to the real SeaweedFS starts on it.
        let port = try LoopbackPort.free()
        var settings = try Stores.s3Settings(server)
        settings.endpoint = URL(string: "http://127.0.0.1:\(port)")!
        settings.retry = .standard
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory("s3-outage")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("blob")
        var generator = ByteGenerator(seed: 11)
        let digest = try generator.writeFile(at: file, size: 1 << 20)

        let started = Date()
        let upload = Task { try await store.put(fileAt: file) }
        try await Task.sleep(for: .seconds(5))
        let relay = try ChildProcess.start(
            "python3", [Fixtures.packageRoot.appendingPathComponent("scripts/trials/tcp_proxy.py").path,
                        "forward", "\(port)", "\(target)", "--lifetime", "120"])
        defer {
            relay.send(SIGTERM)
            _ = relay.wait()
        }
        let result = try await upload.value
        #expect(result.digest == digest)
        #expect(-started.timeIntervalSinceNow >= 5, "the upload cannot have finished before the endpoint came back")
        #expect(try await store.getData(digest: digest).count == 1 << 20)
        try? await store.delete(digest: digest)
    }

    @Test("a missing bucket is named as such; createBucketIfMissing makes it and is idempotent")
    func missingBucket() async throws {
        let server = try TestS3.require()
        let name = "quiver-missing-\(UUID().uuidString.prefix(8).lowercased())"
        var settings = try S3Settings.fromEnvironment(url: "s3://\(name)/p", environment: server.awsEnvironment)
        // SeaweedFS answers 500 for a few seconds while it grows volumes for a new bucket: production retries cover it.
        settings.retry = .standard
        let store = S3BlobStore(settings: settings)
        let error = await #expect(throws: ObjectStoreError.self) { try await store.list() }
        #expect(error?.kind == .bucketMissing)
        // A HEAD's 404 carries no error document: the store asks the bucket rather than answer "absent".
        let headError = await #expect(throws: ObjectStoreError.self) { try await store.head(digest: SHA256Digest.of(Data("x".utf8))) }
        #expect(headError?.kind == .bucketMissing && headError?.reason.contains(name) == true)

        try await BlockingExecutor.shared.run { try store.createBucketIfMissing() }
        try await BlockingExecutor.shared.run { try store.createBucketIfMissing() }
        #expect(try await store.head(digest: SHA256Digest.of(Data("x".utf8))) == nil)
        let put = try await store.put(data: Data("now it exists".utf8))
        #expect(try await store.getData(digest: put.digest) == Data("now it exists".utf8))
        try await store.delete(digest: put.digest)
        try await BlockingExecutor.shared.run { try store.client.deleteBucket() }
    }

    @Test("multipart: a 200 MiB file round-trips with its digest")
    func multipart200MiB() async throws {
        let server = try TestS3.require()
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 32 << 20
        settings.partSize = 8 << 20
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("big.bin")
        var generator = ByteGenerator(seed: 2024)
        let size = 200 << 20
        let digest = try generator.writeFile(at: source, size: size)

        let put = try await store.put(fileAt: source, digest: nil)
        #expect(put == PutResult(digest: digest, size: Int64(size), alreadyPresent: false))
        #expect(try await store.head(digest: digest)?.size == Int64(size))

        let copy = directory.appendingPathComponent("copy.bin")
        #expect(try await store.get(digest: digest, to: copy) == Int64(size))
        #expect(try SHA256Digest.ofFile(at: copy) == digest)
        try await store.delete(digest: digest)
    }

    /// A memory property, not timing: a `quiver blob put` / `get` process streaming 200 MiB each way must not hold
    /// the blob in memory. Measured in a child process (its own VmHWM), so tests running alongside in this process
    /// cannot blur the figure.
    @Test("a quiver process moves 200 MiB each way with a peak RSS far below the blob size")
    func processMemoryStaysFlat() throws {
        let server = try TestS3.require()
        let quiver = Fixtures.quiverExecutable.path
        try #require(FileManager.default.isExecutableFile(atPath: quiver), "build the quiver product first (swift build)")
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("big.bin")
        var generator = ByteGenerator(seed: 2025)
        let size = 200 << 20
        let digest = try generator.writeFile(at: source, size: size)
        let store = ["--store", "s3://\(server.bucket)/rss-\(UUID().uuidString.prefix(8).lowercased())",
                     "--multipart-threshold-mib", "32", "--part-size-mib", "8"]

        let put = try ChildProcess.start(quiver, ["blob", "put"] + store + [source.path], environment: server.awsEnvironment).wait()
        #expect(put.status == 0, "\(put.stderr)")
        #expect(put.stdout.contains(digest.hex))
        let copy = directory.appendingPathComponent("copy.bin")
        let get = try ChildProcess.start(quiver, ["blob", "get"] + store + [digest.hex, copy.path], environment: server.awsEnvironment).wait()
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try SHA256Digest.ofFile(at: copy) == digest)
        _ = try ChildProcess.run(quiver, ["blob", "rm"] + store + [digest.hex], environment: server.awsEnvironment)
        // The process reports its own VmHWM (a parent's ru_maxrss for a spawned child would include our pages).
        func peakMiB(_ output: String) -> Int? {
            output.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("peakRSSMiB=") }
                .flatMap { Int($0.dropFirst("peakRSSMiB=".count)) }
        }
        let putPeak = try #require(peakMiB(put.stdout), "no peakRSSMiB in: \(put.stdout)")
        let getPeak = try #require(peakMiB(get.stdout), "no peakRSSMiB in: \(get.stdout)")
        #expect(putPeak < 100 && getPeak < 100, "quiver blob put/get of 200 MiB: peak RSS \(putPeak) / \(getPeak) MiB")
        print("quiver blob put/get of 200 MiB: peak RSS \(putPeak) / \(getPeak) MiB")
    }

    @Test("a multipart upload refused by the server reports the credentials error")
    func multipartFailureAborts() async throws {
        let server = try TestS3.require()
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 5 << 20
        settings.partSize = 5 << 20
        settings.credentials = StaticCredentials(accessKey: server.accessKey, secretKey: "wrong")  // refused at initiate
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("f.bin")
        var generator = ByteGenerator(seed: 5)
        _ = try generator.writeFile(at: file, size: 11 << 20)
        let error = await #expect(throws: ObjectStoreError.self) { try await store.put(fileAt: file, digest: nil) }
        #expect(error?.kind == .credentials)
    }

    @Test("multipart just above the threshold with a short last part")
    func multipartSmall() async throws {
        let server = try TestS3.require()
        var settings = try Stores.s3Settings(server)
        settings.multipartThreshold = 6 << 20
        settings.partSize = 5 << 20
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("f.bin")
        var generator = ByteGenerator(seed: 9)
        let digest = try generator.writeFile(at: file, size: (11 << 20) + 17)
        #expect(try await store.put(fileAt: file, digest: digest).alreadyPresent == false)
        #expect(try await store.put(fileAt: file, digest: digest).alreadyPresent == true)
        #expect(try await store.getData(digest: digest) == (try Data(contentsOf: file)))
        try await store.delete(digest: digest)
    }

    @Test("a prefix with spaces, plus, equals and non-ASCII characters signs correctly")
    func oddPrefix() async throws {
        let server = try TestS3.require()
        let store = S3BlobStore(settings: try Stores.s3Settings(server, prefix: "odd prefix+é/x=y"))
        let put = try await store.put(data: Data("odd".utf8))
        #expect(try await store.list().map(\.digest) == [put.digest])
        try await store.delete(digest: put.digest)
    }
}
