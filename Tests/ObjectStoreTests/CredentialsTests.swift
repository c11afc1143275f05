import Foundation
@testable import ObjectStore
import QuiverCore
import QuiverTesting
import Synchronization
import Testing

/// A temporary HOME with `.aws/credentials` and `.aws/config`, removed by `cleanUp`.
struct AWSHome {
    let root: URL

    init(credentials: String? = nil, config: String? = nil) throws {
        root = try Fixtures.temporaryDirectory("quiver-aws-home")
        let folder = root.appendingPathComponent(".aws", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let credentials { try Data(credentials.utf8).write(to: folder.appendingPathComponent("credentials")) }
        if let config { try Data(config.utf8).write(to: folder.appendingPathComponent("config")) }
    }

    var environment: [String: String] { ["HOME": root.path] }
    var credentialsPath: String { root.path + "/.aws/credentials" }
    var configPath: String { root.path + "/.aws/config" }

    func cleanUp() { try? FileManager.default.removeItem(at: root) }
}

@Suite("AWS shared files and the credential chain")
struct CredentialChainTests {
    @Test("INI: comments, whitespace, key case, ':' settings, inline comments, sub-settings, CRLF, BOM, merged sections")
    func parsing() throws {
        let text = "\u{FEFF}# a comment\r\n; another\r\n[default]\r\n  AWS_Access_Key_ID   =  AK  \r\n"
            + "aws_secret_access_key=SK # trailing comment\r\nregion: eu-west-1\r\n\r\n[profile dev]\r\n"
            + "s3 =\r\n  addressing_style = path\r\n  endpoint_url = http://127.0.0.1:9000\r\n"
            + "output = json;not-a-comment\r\n[default]\r\nregion = us-west-2\r\n"
        let file = try AWSConfigFile.parse(text, path: "/x/config")
        #expect(file.sections["default"] == [
            "aws_access_key_id": "AK", "aws_secret_access_key": "SK", "region": "us-west-2",
        ])
        #expect(file.sections["profile dev"] == [
            "s3": "", "s3.addressing_style": "path", "s3.endpoint_url": "http://127.0.0.1:9000", "output": "json;not-a-comment",
        ])
        #expect(file.configProfile("dev")?["output"] == "json;not-a-comment")
        #expect(file.configProfile("default")?["region"] == "us-west-2")
        #expect(file.configProfile("missing") == nil)
        #expect(file.credentialsProfile("profile dev") != nil && file.credentialsProfile("dev") == nil)
    }

    @Test("malformed files are named by path and line, never echoing the line (it may hold a secret)")
    func malformed() throws {
        let cases = [
            ("aws_secret_access_key = SECRET-ONE\n", 1),
            ("[default]\nSECRET-TWO\n", 2),
            ("[default\naws_secret_access_key = SECRET-THREE\n", 1),
            ("[]\n", 1),
            ("[default] SECRET-FOUR\n", 1),
            ("[default]\n= SECRET-FIVE\n", 2),
        ]
        for (text, line) in cases {
            let error = #expect(throws: ObjectStoreError.self) { try AWSConfigFile.parse(text, path: "/home/me/.aws/credentials") }
            #expect(error?.kind == .configuration)
            #expect(error?.reason.hasPrefix("/home/me/.aws/credentials line \(line):") == true, "\(String(describing: error))")
            #expect(error.map { !"\($0.reason) \($0.hint)".contains("SECRET") } == true)
        }
    }

    @Test("precedence: environment, then web identity, then the credentials file, then the config file")
    func precedence() throws {
        let home = try AWSHome(
            credentials: "[default]\naws_access_key_id = FILE-AK\naws_secret_access_key = FILE-SK\n",
            config: "[default]\naws_access_key_id = CONFIG-AK\naws_secret_access_key = CONFIG-SK\nregion = eu-north-1\n"
                + "[profile only-config]\naws_access_key_id = ONLY-AK\naws_secret_access_key = ONLY-SK\n"
                + "aws_session_token = ONLY-ST\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:7000\n")
        defer { home.cleanUp() }
        func settings(_ extra: [String: String]) throws -> S3Settings {
            try S3Settings.fromEnvironment(url: "s3://bucket/p", environment: home.environment.merging(extra) { $1 })
        }
        let fromEnv = try settings(["AWS_ACCESS_KEY_ID": "ENV-AK", "AWS_SECRET_ACCESS_KEY": "ENV-SK"])
        #expect(try fromEnv.credentials.credentials().accessKey == "ENV-AK")
        #expect(fromEnv.region == "eu-north-1", "the profile's region applies whatever the credentials' source")

        let fromFile = try settings([:])
        #expect(try fromFile.credentials.credentials() == S3Credentials(accessKey: "FILE-AK", secretKey: "FILE-SK"))
        #expect(fromFile.credentials.source == "profile default in \(home.credentialsPath)")
        #expect(fromFile.endpoint.absoluteString == "https://s3.eu-north-1.amazonaws.com")

        let fromConfig = try settings(["AWS_PROFILE": "only-config"])
        #expect(try fromConfig.credentials.credentials() == S3Credentials(accessKey: "ONLY-AK", secretKey: "ONLY-SK", sessionToken: "ONLY-ST"))
        #expect(fromConfig.region == "ap-south-1")
        #expect(fromConfig.endpoint.absoluteString == "http://127.0.0.1:7000")
        #expect(try settings(["AWS_PROFILE": "only-config", "AWS_REGION": "us-west-1"]).region == "us-west-1")
        #expect(try settings(["AWS_PROFILE": "only-config", "AWS_DEFAULT_REGION": "us-west-1"]).region == "us-west-1")
        #expect(try settings(["AWS_PROFILE": "only-config", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"]).endpoint.port == 1)
        #expect(try settings(["AWS_PROFILE": "only-config", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"]).endpoint.host
                == "s3.ap-south-1.amazonaws.com")

        let webIdentity = try settings(["AWS_WEB_IDENTITY_TOKEN_FILE": "/nonexistent/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"])
        let provider = try #require(webIdentity.credentials as? WebIdentityCredentials)
        #expect(provider.endpoint.absoluteString == "https://sts.eu-north-1.amazonaws.com")
        #expect(provider.roleARN == "arn:aws:iam::1:role/r")
        // Nothing was contacted yet; the first use reads the (missing) token file and names it.
        let noToken = #expect(throws: ObjectStoreError.self) { try provider.credentials() }
        #expect(noToken?.kind == .credentials && noToken?.reason.contains("/nonexistent/token") == true)
    }

    @Test("endpoints: AWS_ENDPOINT_URL_S3, the profile's services section, AWS_ENDPOINT_URL, the profile's endpoint_url")
    func endpoints() throws {
        let home = try AWSHome(config: """
            [default]
            aws_access_key_id = AK
            aws_secret_access_key = SK
            services = local
            endpoint_url = http://global.example:1
            [services local]
            s3 =
              endpoint_url = http://s3.example:2
            sts =
              endpoint_url = http://sts.example:3
            """)
        defer { home.cleanUp() }
        func endpoint(_ extra: [String: String]) throws -> String {
            try S3Settings.fromEnvironment(url: "s3://bucket", environment: home.environment.merging(extra) { $1 }).endpoint.absoluteString
        }
        #expect(try endpoint([:]) == "http://s3.example:2")
        #expect(try endpoint(["AWS_ENDPOINT_URL": "http://env.example:4"]) == "http://s3.example:2")
        #expect(try endpoint(["AWS_ENDPOINT_URL_S3": "http://env-s3.example:5"]) == "http://env-s3.example:5")
        let sts = try S3Settings.fromEnvironment(url: "s3://bucket", environment: home.environment.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
        ]) { $1 })
        #expect((sts.credentials as? WebIdentityCredentials)?.endpoint.absoluteString == "http://sts.example:3")
    }

    @Test("named errors: a missing AWS_PROFILE, no credentials anywhere, half a key pair, unsupported sources")
    func errors() throws {
        let home = try AWSHome(
            credentials: "[half]\naws_access_key_id = HALF-AK\n",
            config: "[profile sso]\nsso_start_url = https://example.awsapps.com/start\n[profile proc]\ncredential_process = /bin/false\n")
        defer { home.cleanUp() }
        func attempt(_ extra: [String: String]) -> ObjectStoreError? {
            #expect(throws: ObjectStoreError.self) {
                try S3Settings.fromEnvironment(url: "s3://bucket", environment: home.environment.merging(extra) { $1 })
            }
        }
        let missing = attempt(["AWS_PROFILE": "nope", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SECRET-VALUE"])
        #expect(missing?.kind == .credentials && missing?.code == "objectstore.credentials")
        #expect(missing?.reason.contains("nope") == true && missing?.reason.contains(home.credentialsPath) == true)

        let none = attempt([:])
        #expect(none?.kind == .credentials && none?.reason == "no S3 credentials for s3://bucket")
        for tried in ["AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)", "AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN (not set)",
                      "profile default in \(home.credentialsPath) (no such profile)",
                      "profile default in \(home.configPath) (no such profile)"] {
            #expect(none?.hint.contains(tried) == true, "hint lacks \(tried): \(String(describing: none?.hint))")
        }
        let noFiles = #expect(throws: ObjectStoreError.self) {
            try S3Settings.fromEnvironment(url: "s3://bucket", environment: ["HOME": "/nonexistent-home"])
        }
        #expect(noFiles?.hint.contains("/nonexistent-home/.aws/credentials (no such file)") == true)

        let halfEnv = attempt(["AWS_ACCESS_KEY_ID": "AK"])
        #expect(halfEnv?.kind == .credentials && halfEnv?.reason.contains("only one of") == true)
        let halfFile = attempt(["AWS_PROFILE": "half"])
        #expect(halfFile?.kind == .credentials && halfFile?.reason.contains("only one of") == true)
        #expect(halfFile.map { !"\($0.reason) \($0.hint)".contains("HALF-AK") } == true)
        let sso = attempt(["AWS_PROFILE": "sso"])
        #expect(sso?.reason.contains("sso_start_url") == true)
        let process = attempt(["AWS_PROFILE": "proc"])
        #expect(process?.reason.contains("credential_process") == true)
        let noRole = attempt(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t"])
        #expect(noRole?.kind == .credentials && noRole?.hint.contains("AWS_ROLE_ARN") == true)
        for error in [missing, none, halfEnv, halfFile, sso, process, noRole] {
            #expect(error.map { !"\($0.reason) \($0.hint)".contains("SECRET-VALUE") } == true)
        }
    }

    @Test("profiles against SeaweedFS: keys from the credentials file, region and endpoint from the config file")
    func profileAgainstSeaweedFS() async throws {
        let server = try TestS3.require()
        let home = try AWSHome(
            credentials: "[default]\naws_access_key_id = \(server.accessKey)\naws_secret_access_key = \(server.secretKey)\n"
                + "[wrong]\naws_access_key_id = \(server.accessKey)\naws_secret_access_key = not-the-secret\n",
            config: "[default]\nregion = \(server.region)\nendpoint_url = \(server.endpoint)\n"
                + "[profile wrong]\nregion = \(server.region)\nendpoint_url = \(server.endpoint)\n"
                + "[profile in-config]\nregion = \(server.region)\nendpoint_url = \(server.endpoint)\n"
                + "aws_access_key_id = \(server.accessKey)\naws_secret_access_key = \(server.secretKey)\n")
        defer { home.cleanUp() }
        func store(_ extra: [String: String]) throws -> S3BlobStore {
            let url = "s3://\(server.bucket)/creds-\(UUID().uuidString.prefix(8).lowercased())"
            var settings = try S3Settings.fromEnvironment(url: url, environment: home.environment.merging(extra) { $1 })
            settings.retry = RetryPolicy(maxAttempts: 2, baseDelay: 0.05, maxDelay: 0.1, maxTotal: 2)
            return S3BlobStore(settings: settings)
        }
        for profile in [[:], ["AWS_PROFILE": "in-config"]] {
            let blobs = try store(profile)
            let put = try await blobs.put(data: Data("from a profile".utf8))
            #expect(try await blobs.getData(digest: put.digest) == Data("from a profile".utf8))
            try await blobs.delete(digest: put.digest)
        }

        // The environment wins over the profile, in both directions.
        let envWrong = try store(["AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": "not-the-secret"])
        let refused = await #expect(throws: ObjectStoreError.self) { try await envWrong.put(data: Data("x".utf8)) }
        #expect(refused?.kind == .credentials && refused?.hint.contains("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") == true)
        let envRight = try store(["AWS_PROFILE": "wrong", "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey])
        let put = try await envRight.put(data: Data("env wins".utf8))
        try await envRight.delete(digest: put.digest)

        // A profile with a wrong key: the hint names the profile and its file.
        let wrong = try store(["AWS_PROFILE": "wrong"])
        let error = await #expect(throws: ObjectStoreError.self) { try await wrong.put(data: Data("x".utf8)) }
        #expect(error?.kind == .credentials && error?.hint.contains("profile wrong in \(home.credentialsPath)") == true)
        #expect(error.map { !"\($0.reason) \($0.hint)".contains(server.secretKey) && !"\($0.reason) \($0.hint)".contains("not-the-secret") } == true)
    }
}

/// A moto server (`moto_server`, a second S3 implementation that also serves STS) on a free loopback port, for the
/// web identity tests. Found at `QUIVER_TEST_MOTO_SERVER`, in `.venv-moto/` of the package, or on PATH; when it is
/// not installed the tests are skipped (install: `python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]'`).
final class MotoServer: Sendable {
    let endpoint: String
    private let process: ChildProcess.Running

    static func start() throws -> MotoServer {
        let environment = ProcessInfo.processInfo.environment
        let candidates = [environment["QUIVER_TEST_MOTO_SERVER"], Fixtures.packageRoot.path + "/.venv-moto/bin/moto_server"]
            + (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/moto_server" }
        guard let executable = candidates.compactMap({ $0 }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            try Test.cancel("moto_server not found: python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]'")
        }
        let port = try freePort()
        let process = try ChildProcess.start(executable, ["-H", "127.0.0.1", "-p", String(port)])
        let server = MotoServer(endpoint: "http://127.0.0.1:\(port)", process: process)
        let deadline = Date().addingTimeInterval(30)
        while !canConnect(port) {
            guard Date() < deadline else {
                server.stop()
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "moto_server did not listen on \(port)"])
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return server
    }

    private init(endpoint: String, process: ChildProcess.Running) {
        self.endpoint = endpoint
        self.process = process
    }

    /// SIGKILL: the test runner's threads block SIGTERM, and a spawned child inherits that mask.
    func stop() {
        process.send(SIGKILL)
        _ = process.wait()
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

@Suite("Web identity credentials against moto's STS")
struct WebIdentityTests {
    @Test("AssumeRoleWithWebIdentity: resolved from the environment, used for S3, refreshed before expiry, errors named")
    func webIdentity() async throws {
        let moto = try MotoServer.start()
        defer { moto.stop() }
        let directory = try Fixtures.temporaryDirectory("quiver-web-identity")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token")
        try Data("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJxdWl2ZXIifQ.c2lnbmF0dXJl\n".utf8).write(to: tokenFile)
        let role = "arn:aws:iam::123456789012:role/quiver-registry"
        let environment = [
            "HOME": directory.path, "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path, "AWS_ROLE_ARN": role,
            "AWS_ROLE_SESSION_NAME": "quiver-test", "AWS_ENDPOINT_URL_STS": moto.endpoint,
            "AWS_ENDPOINT_URL_S3": moto.endpoint, "AWS_REGION": "us-east-1",
        ]

        // Resolved from the environment; nothing asked until the first request.
        var settings = try S3Settings.fromEnvironment(url: "s3://quiver-moto/p", environment: environment)
        let provider = try #require(settings.credentials as? WebIdentityCredentials)
        #expect(provider.refreshCount == 0)
        #expect(provider.sessionName == "quiver-test" && provider.roleARN == role)
        settings.multipartThreshold = 6 << 20
        settings.partSize = 5 << 20
        let store = S3BlobStore(settings: settings)
        try await BlockingExecutor.shared.run { try store.createBucketIfMissing() }
        let keys = try provider.credentials()
        #expect(provider.refreshCount == 1)
        #expect(keys.sessionToken?.isEmpty == false && !keys.accessKey.isEmpty && !keys.secretKey.isEmpty)
        #expect(try #require(keys.expiration).timeIntervalSinceNow > 600)

        // moto as a second S3 implementation: a single streamed PUT and a multipart one, read back verified.
        for size in [300_001, (11 << 20) + 7] {
            var generator = ByteGenerator(seed: UInt64(size))
            let bytes = generator.data(count: size)
            let put = try await store.put(from: DataSource(bytes), size: Int64(size), digest: SHA256Digest.of(bytes))
            #expect(put.alreadyPresent == false)
            #expect(try await store.getData(digest: put.digest) == bytes)
            let wrong = await #expect(throws: ObjectStoreError.self) {
                try await store.put(from: DataSource(bytes), size: Int64(size), digest: SHA256Digest.of(Data("no".utf8)))
            }
            #expect(wrong?.kind == .corruptBlob)
            #expect(try await store.head(digest: SHA256Digest.of(Data("no".utf8))) == nil)
            #expect(try store.pendingUploads().isEmpty)
            try await store.delete(digest: put.digest)
        }
        #expect(provider.refreshCount == 1, "the keys in hand are reused while they are fresh")

        // Refreshed once they come within the margin of their expiry: with a margin of all but 3 s of moto's hour,
        // keys go stale 3 s after they were issued; then eight threads ask at once and exactly one fetches (the
        // others find fresh keys once they get the lock), reading the token file again.
        let offset = Mutex<TimeInterval>(0)
        let moving = WebIdentityCredentials(roleARN: role, tokenFile: tokenFile.path, sessionName: "quiver-clock",
                                            endpoint: try S3Settings.parse(endpoint: moto.endpoint), refreshMargin: 3597,
                                            retry: .standard, connectTimeout: 5,
                                            now: { Date().addingTimeInterval(offset.withLock { $0 }) })
        let first = try moving.credentials()
        #expect(try moving.credentials() == first && moving.refreshCount == 1)
        try await Task.sleep(for: .seconds(3.5))
        let answers = try ParallelMap.run(count: 8, workers: 8) { _ in try moving.credentials() }
        #expect(moving.refreshCount == 2, "one refresh for eight concurrent callers")
        #expect(Set(answers.map(\.accessKey)).count == 1 && answers[0].accessKey != first.accessKey)
        // A refresh that fails while the keys in hand are still valid keeps them; once they expired it throws.
        try FileManager.default.removeItem(at: tokenFile)
        try await Task.sleep(for: .seconds(3.5))
        #expect(try moving.credentials() == answers[0])
        offset.withLock { $0 = 3600 }
        let expired = #expect(throws: ObjectStoreError.self) { try moving.credentials() }
        #expect(expired?.kind == .credentials && expired?.reason.contains(tokenFile.path) == true)
        #expect(moving.refreshCount == 2)

        // An STS endpoint that does not answer: unreachable after the bounded retries, named.
        let emptyFile = directory.appendingPathComponent("empty-token")
        try Data("\n".utf8).write(to: emptyFile)
        let nowhere = WebIdentityCredentials(roleARN: role, tokenFile: emptyFile.path, sessionName: "s",
                                             endpoint: URL(string: "http://127.0.0.1:1")!, refreshMargin: 300,
                                             retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02, maxTotal: 1),
                                             connectTimeout: 2, now: { Date() })
        let emptyToken = #expect(throws: ObjectStoreError.self) { try nowhere.credentials() }
        #expect(emptyToken?.kind == .credentials && emptyToken?.reason.contains("empty") == true)
        let tokenElsewhere = directory.appendingPathComponent("token2")
        try Data("t".utf8).write(to: tokenElsewhere)
        let unreachable = WebIdentityCredentials(roleARN: role, tokenFile: tokenElsewhere.path, sessionName: "s",
                                                 endpoint: URL(string: "http://127.0.0.1:1")!, refreshMargin: 300,
                                                 retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02, maxTotal: 1),
                                                 connectTimeout: 2, now: { Date() })
        let down = #expect(throws: ObjectStoreError.self) { try unreachable.credentials() }
        #expect(down?.kind == .unreachable && down?.reason.contains("2 attempt(s)") == true)
        #expect(down.map { !"\($0.reason) \($0.hint)".contains("t\n") } == true)
        try? await BlockingExecutor.shared.run { try store.client.deleteBucket() }
    }
}
