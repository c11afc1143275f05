import Foundation
import QuiverCore
import QuiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `quiver` process driven into every kind of failure: the exit status of each, and with `--json` the
/// error body on stdout (`{"error": {"code", "kind", "message", "hint"}}`).
@Suite("quiver exit statuses and error bodies", .serialized)
struct CLIExitStatusTests {
    /// A finished `quiver` run.
    struct Run {
        let arguments: [String]
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
        /// The child's process id, when it ran as one (its scratch directories carry it).
        var pid: pid_t = 0

        /// The `error` object of a JSON error body on stdout.
        func errorBody(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: String] {
            let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
            let error = try #require(object?["error"] as? [String: String], "no error body in: \(stdout)", sourceLocation: sourceLocation)
            #expect(Set(error.keys) == ["code", "kind", "message", "hint"], sourceLocation: sourceLocation)
            return error
        }

        var description: String { "quiver \(arguments.joined(separator: " ")) -> \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    static func quiver(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let executable = Fixtures.quiverExecutable.path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "build the quiver product first (swift build)")
        let start = Date()
        let outcome = try ChildProcess.run(executable, arguments, environment: environment)
        return Run(arguments: arguments, status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr,
                   seconds: -start.timeIntervalSinceNow)
    }

    /// A loopback port nothing listens on: bound, then closed again (nothing else on this machine asks for it in
    /// the moments the test runs).
    static func closedLoopbackPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket >= 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A registry on a scratch database and a local blob directory, with `tone` (a1, r=8) and `wide` (a4, r=4).
    struct Scratch {
        let database: String
        let blobs: URL
        let directory: URL
        var common: [String] { ["--database-url", database, "--blob-store", blobs.path, "--actor", "exit-tests"] }

        static func make() throws -> Scratch {
            let database = try TestPostgres.createScratchDatabase()
            let directory = try Fixtures.temporaryDirectory("cli-exit")
            let scratch = Scratch(database: database, blobs: directory.appendingPathComponent("blobs"), directory: directory)
            for (fixture, name) in [("a1", "tone"), ("a4", "wide")] {
                let run = try quiver(["register", RegistryFixture.golden(fixture).path, "--name", name] + scratch.common)
                try #require(run.status == 0, "\(run.description)")
            }
            return scratch
        }

        func tearDown() {
            try? TestPostgres.dropDatabase(url: database)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test func refusalExits2WithTheRefusalsCode() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        // ties needs equal ranks in every module: r=8 with r=4 is refused.
        let run = try Self.quiver(["merge", "--method", "ties", "--density", "0.5", "--into", "bad", "tone", "wide", "--json"] + scratch.common)
        #expect(run.status == 2, "\(run.description)")
        let body = try run.errorBody()
        #expect(body["kind"] == "refusal")
        #expect(body["code"] == "merge.rank_mismatch")
        #expect(body["hint"]?.isEmpty == false)
        #expect(run.stderr.isEmpty, "with --json the error goes to stdout only")

        let text = try Self.quiver(["merge", "--method", "ties", "--density", "0.5", "--into", "bad", "tone", "wide"] + scratch.common)
        #expect(text.status == 2)
        #expect(text.stdout.isEmpty)
        #expect(text.stderr.hasPrefix("error: merge.rank_mismatch: "), "\(text.description)")
        #expect(text.stderr.contains("\nhint: "))
    }

    @Test func unknownNameExits3() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let run = try Self.quiver(["show", "nobody", "--json"] + scratch.common)
        #expect(run.status == 3, "\(run.description)")
        let body = try run.errorBody()
        #expect(body["kind"] == "not_found")
        #expect(body["code"] == "registry.not_found")
        #expect(try Self.quiver(["show", "nobody@7"] + scratch.common).status == 3)
    }

    @Test func existingOutputDirectoryExits2AsAConflict() throws {
        let directory = try Fixtures.temporaryDirectory("cli-conflict")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: output.appendingPathComponent("note.txt"))
        let run = try Self.quiver([
            "merge-files", "--method", "linear", "--output", output.path,
            RegistryFixture.golden("a1").path, RegistryFixture.golden("a2").path,
        ])
        #expect(run.status == 2, "\(run.description)")
        #expect(run.stderr.hasPrefix("error: fs.output_exists: "), "\(run.description)")
        // Nothing was written next to it or into it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path) == ["note.txt"])

        // The same for pull, on a registry.
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let pull = try Self.quiver(["pull", "tone", "--output", output.path] + scratch.common)
        #expect(pull.status == 2, "\(pull.description)")
        #expect(pull.stderr.hasPrefix("error: fs.output_exists: "))
    }

    @Test func mergeFilesWithFsyncWritesTheSameBytes() throws {
        let directory = try Fixtures.temporaryDirectory("cli-fsync")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = [RegistryFixture.golden("a1").path, RegistryFixture.golden("a2").path]
        let plain = directory.appendingPathComponent("plain"), synced = directory.appendingPathComponent("synced")
        let first = try Self.quiver(["merge-files", "--method", "ties", "--density", "0.5", "--output", plain.path] + inputs)
        let second = try Self.quiver(["merge-files", "--method", "ties", "--density", "0.5", "--fsync", "--output", synced.path] + inputs)
        #expect(first.status == 0 && second.status == 0, "\(first.description) \(second.description)")
        for file in ["adapter_model.safetensors", "adapter_config.json"] {
            let a = try Data(contentsOf: plain.appendingPathComponent(file)), b = try Data(contentsOf: synced.appendingPathComponent(file))
            #expect(!a.isEmpty && a == b, "\(file)")
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)) == ["plain", "synced"], "no temporary left")
    }

    @Test func malformedAdapterExits2AsInvalidInput() throws {
        let malformed = Fixtures.root.appendingPathComponent("malformed/lora/invalid_config_field__r_string")
        let run = try Self.quiver(["inspect", malformed.path, "--json"])
        #expect(run.status == 2, "\(run.description)")
        let body = try run.errorBody()
        #expect(body["kind"] == "invalid_input")
        #expect(body["code"] == "lora.invalid_config_field")
        let nan = try Self.quiver(["inspect", Fixtures.root.appendingPathComponent("malformed/lora/non_finite_weight__nan").path])
        #expect(nan.status == 2, "\(nan.description)")
        #expect(nan.stderr.hasPrefix("error: "))
    }

    @Test func closedDatabasePortExits4QuicklyWithoutLeakingThePassword() throws {
        let port = try Self.closedLoopbackPort()
        let url = "postgresql://quiver:hunter2-secret@127.0.0.1:\(port)/quiver"
        let blobs = try Fixtures.temporaryDirectory("cli-unavailable")
        defer { try? FileManager.default.removeItem(at: blobs) }
        let run = try Self.quiver(["show", "tone", "--json", "--database-url", url, "--blob-store", blobs.path])
        #expect(run.status == 4, "\(run.description)")
        #expect(run.seconds < 30)
        let body = try run.errorBody()
        #expect(body["kind"] == "unavailable")
        #expect(body["code"] == "postgres.connection_failed")
        #expect(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"))
        // The same URL from the environment; text form.
        let text = try Self.quiver(["list", "--blob-store", blobs.path], environment: ["QUIVER_DATABASE_URL": url])
        #expect(text.status == 4, "\(text.description)")
        #expect(text.stderr.hasPrefix("error: postgres.connection_failed: "))
        #expect(!text.stderr.contains("hunter2"))
    }

    @Test func refusedS3EndpointExits4WithinTheRetryBudget() throws {
        let port = try Self.closedLoopbackPort()
        let environment = [
            "AWS_ACCESS_KEY_ID": "quiver-test", "AWS_SECRET_ACCESS_KEY": "s3-secret-never-printed",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:\(port)", "AWS_REGION": "us-east-1",
            // The standard window is 30 s; a short one keeps the test quick and proves the variable is honoured.
            "QUIVER_S3_RETRY_SECONDS": "3",
        ]
        let digest = String(repeating: "ab", count: 32)
        let run = try Self.quiver(["blob", "head", digest, "--store", "s3://quiver-test/closed"], environment: environment)
        #expect(run.status == 4, "\(run.description)")
        #expect(run.seconds < 15, "QUIVER_S3_RETRY_SECONDS=3 gives up within about 3 s")
        #expect(run.seconds > 0.5, "but it does retry for a while")
        #expect(run.stderr.hasPrefix("error: objectstore.unreachable: "))
        #expect(!run.stderr.contains("s3-secret-never-printed"))
    }

    @Test func tamperedBlobExits1OnVerifyAndPull() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let shown = try Self.quiver(["show", "tone", "--json"] + scratch.common)
        let object = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        let version = try #require(object?["version"] as? [String: Any])
        // A digest is encoded as {"hex": "…"} (or, should that change, as the bare hex string).
        let encoded = version["weightsDigest"]
        let weights = try #require((encoded as? [String: Any])?["hex"] as? String ?? encoded as? String, "\(shown.stdout)")
        let blob = scratch.blobs.appendingPathComponent("sha256/\(weights)")
        var bytes = try Data(contentsOf: blob)
        bytes[bytes.count - 1] ^= 0xFF
        try FileManager.default.removeItem(at: blob)
        try bytes.write(to: blob)

        let verify = try Self.quiver(["verify", "tone"] + scratch.common)
        #expect(verify.status == 1, "\(verify.description)")
        #expect(verify.stdout.contains("FAIL"))
        let json = try Self.quiver(["verify", "tone", "--json"] + scratch.common)
        #expect(json.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(report?["subject"] as? String == "tone@1", "the report, not an error body: \(json.stdout)")

        let output = scratch.directory.appendingPathComponent("pulled")
        let pull = try Self.quiver(["pull", "tone", "--output", output.path] + scratch.common)
        #expect(pull.status == 1, "\(pull.description)")
        #expect(pull.stderr.hasPrefix("error: objectstore.corrupt_blob: "))
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test func usageErrorsExit64WithoutOpeningTheDatabase() throws {
        // Opening this database would fail with 4 (unavailable); opening this blob store would create its directory.
        let port = try Self.closedLoopbackPort()
        let directory = try Fixtures.temporaryDirectory("cli-usage")
        defer { try? FileManager.default.removeItem(at: directory) }
        let blobs = directory.appendingPathComponent("never-created")
        let untouched = ["--database-url", "postgresql://quiver@127.0.0.1:\(port)/quiver", "--blob-store", blobs.path]

        let unknownFlag = try Self.quiver(["list", "--no-such-flag"] + untouched)
        #expect(unknownFlag.status == 64, "\(unknownFlag.description)")
        #expect(unknownFlag.stderr.contains("--no-such-flag"))
        let unknownJSON = try Self.quiver(["list", "--no-such-flag", "--json"] + untouched)
        #expect(unknownJSON.status == 64)
        #expect(try unknownJSON.errorBody()["kind"] == "usage")
        #expect(try unknownJSON.errorBody()["code"] == "cli.usage")
        let badKind = try Self.quiver(["list", "--kind", "baked", "--json"] + untouched)
        #expect(badKind.status == 64, "\(badKind.description)")
        #expect(try badKind.errorBody()["code"] == "cli.usage")
        #expect(try badKind.errorBody()["message"]?.contains("'trained' and 'merged'") == true)

        let cases: [(arguments: [String], code: String)] = [
            (["merge", "--method", "ties", "--density", "0.5", "--weights", "0.5,heavy", "--into", "x", "tone", "json"], "merge.bad_parameter"),
            (["merge", "--method", "ties", "--density", "1.5", "--into", "x", "tone", "json"], "merge.bad_parameter"),
            (["merge", "--method", "ties", "--into", "x", "tone", "json"], "merge.missing_parameter"),
            (["merge", "--method", "linear", "--weights", "1,2,3", "--into", "x", "tone", "json"], "merge.weight_count"),
            (["merge", "--method", "slerp", "--t", "2", "--into", "x", "tone", "json"], "merge.bad_parameter"),
            (["merge", "--method", "linear", "--into", "bad name", "tone", "json"], "registry.invalid_name"),
            (["show", "tone@"], "registry.invalid_reference"),
            (["register", RegistryFixture.golden("a1").path, "--name", "tone", "--tag", "novalue"], "cli.invalid_tag"),
            (["gc", "--grace", "soon"], "registry.invalid_duration"),
            (["worker", "--once", "--lease", "0s"], "cli.invalid_option"),
            (["eval", "record", "tone", "--suite", "s", "--metric", "m", "--value", "nan"], "cli.invalid_option"),
            (["alias", "set", "tone", "7", "1"], "cli.invalid_alias"),
            (["policy", "set", "max_merged_rank", "0"], "registry.invalid_policy"),
            (["policy", "set", "max_merged_rank", "{"], "cli.invalid_json"),
        ]
        for (arguments, code) in cases {
            let run = try Self.quiver(arguments + ["--json"] + untouched)
            #expect(run.status == 64, "\(run.description)")
            #expect(try run.errorBody()["code"] == code, "\(run.description)")
            #expect(try run.errorBody()["kind"] == "usage")
            let text = try Self.quiver(arguments + untouched)
            #expect(text.status == 64)
            #expect(text.stderr.hasPrefix("error: \(code): "), "\(text.description)")
        }
        for blobArguments in [["blob", "head", "not-a-digest"], ["blob", "ls", "xyz"], ["blob", "put", "/dev/null", "--part-size-mib", "1"]] {
            let run = try Self.quiver(blobArguments + ["--store", blobs.path])
            #expect(run.status == 64, "\(run.description)")
        }
        #expect(!FileManager.default.fileExists(atPath: blobs.path), "no command opened the blob store")
    }

    @Test func badWeightsAreTheSameErrorInMergeAndMergeFiles() throws {
        let port = try Self.closedLoopbackPort()
        let directory = try Fixtures.temporaryDirectory("cli-weights")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out")
        let inputs = [RegistryFixture.golden("a1").path, RegistryFixture.golden("a2").path]
        let merge = try Self.quiver([
            "merge", "--method", "linear", "--weights", "0.5,x", "--into", "blend", "tone", "json",
            "--database-url", "postgresql://quiver@127.0.0.1:\(port)/quiver", "--blob-store", directory.path,
        ])
        let files = try Self.quiver(["merge-files", "--method", "linear", "--weights", "0.5,x", "--output", output.path] + inputs)
        #expect(merge.status == 64 && files.status == 64, "\(merge.description)\n\(files.description)")
        #expect(merge.stderr.hasPrefix("error: merge.bad_parameter: weight 'x' is not a finite number"))
        #expect(merge.stderr == files.stderr)
        #expect(!FileManager.default.fileExists(atPath: output.path))

        // A count that does not match the inputs is refused the same way too, before any input is read.
        let count = try Self.quiver(["merge-files", "--method", "linear", "--weights", "1", "--output", output.path] + inputs)
        #expect(count.status == 64)
        #expect(count.stderr.hasPrefix("error: merge.weight_count: "))
    }

    @Test func helpAndVersionSucceed() throws {
        let help = try Self.quiver(["merge", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--weights"))
        let version = try Self.quiver(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == QuiverVersion.current)
        let bare = try Self.quiver([])
        #expect(bare.status == 0 && bare.stdout.contains("SUBCOMMANDS"))
    }
}
