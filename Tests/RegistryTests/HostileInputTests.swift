import Foundation
import QuiverCore
import QuiverTesting
import Registry
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile input through the built `quiver` (issue 12, item 4), one test per class: every case ends in a named
/// error, within a time bound, and leaves the catalog and the blob store exactly as they were.
@Suite("quiver: hostile input", .serialized)
struct HostileInputTests {
    typealias Scratch = CLIExitStatusTests.Scratch

    /// What the registry holds: every version row, every alias, every tag, and every file of the blob directory.
    static func state(_ scratch: Scratch) throws -> [String] {
        let rows = try TestPostgres.psql(scratch.database, """
            SELECT string_agg(a.name || '@' || v.version || ' ' || v.tags::text, E'\\n' ORDER BY v.id)
            FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
            """)
        let aliases = try TestPostgres.psql(scratch.database, "SELECT count(*) FROM aliases")
        let files = (FileManager.default.enumerator(atPath: scratch.blobs.path)?.allObjects as? [String] ?? []).sorted()
        return [rows, aliases] + files
    }

    /// Runs quiver with a watchdog: a run still going after `seconds` is killed and reported as a hang.
    static func bounded(_ arguments: [String], seconds: Double = 30, environment: [String: String] = [:]) throws -> CLIExitStatusTests.Run {
        let running = try ChildProcess.start(Fixtures.quiverExecutable.path, arguments, environment: environment)
        let done = DispatchSemaphore(value: 0)
        let start = Date()
        let watchdog = Thread {
            if done.wait(timeout: .now() + seconds) == .timedOut { running.send(SIGKILL) }
        }
        watchdog.start()
        let outcome = running.wait()
        done.signal()
        let elapsed = -start.timeIntervalSinceNow
        #expect(elapsed < seconds, "quiver \(arguments.prefix(3).joined(separator: " ")) hung (killed after \(seconds) s)")
        return CLIExitStatusTests.Run(arguments: arguments, status: outcome.status, stdout: outcome.stdout,
                                      stderr: outcome.stderr, seconds: elapsed, pid: running.pid)
    }

    /// Expects each command to fail with `status` and a code starting with `code`, and the registry unchanged.
    static func expectRefused(
        _ cases: [[String]], status: Int32, code: String, scratch: Scratch, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let before = try state(scratch)
        for arguments in cases {
            let run = try bounded(arguments + scratch.common)
            let shown = String(run.description.prefix(600))
            #expect(run.status == status, "\(shown)", sourceLocation: sourceLocation)
            // An option value the argument parser itself refuses (an integer past 2^64) is its usage message.
            let parserUsage = code.isEmpty && run.stderr.hasPrefix("Error: ")
            #expect(run.stderr.hasPrefix("error: \(code)") || parserUsage, "\(shown)", sourceLocation: sourceLocation)
            #expect(run.stderr.utf8.count < 4096, "the error does not echo a huge input whole", sourceLocation: sourceLocation)
            #expect(!run.stderr.contains("\u{1B}"), "no raw escape sequence reaches the terminal", sourceLocation: sourceLocation)
        }
        #expect(try state(scratch) == before, "nothing recorded or uploaded", sourceLocation: sourceLocation)
    }

    static let long = String(repeating: "a", count: 100_000)

    @Test func namesThatArePathsControlCharactersHugeQuotedOrConfusableAreRefused() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let a2 = RegistryFixture.golden("a2").path
        let names = [
            "../tone", "team/../tone", "team/./tone", "tone/..", "a//b", "tone/", "/tone", ".hidden",
            "to\u{01}ne", "tone\u{1B}[2J", "tone\n", Self.long,
            "tone'; DROP TABLE adapter_versions; --", "tone\"", "tone;rm",
            "t\u{043E}ne",  // Cyrillic o: looks like "tone"
            "\u{FF54}\u{FF4F}\u{FF4E}\u{FF45}",  // fullwidth "tone"
            "tone\u{200B}",  // zero-width space
        ]
        try Self.expectRefused(names.map { ["register", a2, "--name", $0] }, status: 64, code: "registry.invalid_name", scratch: scratch)
        try Self.expectRefused(names.map { ["merge", "--method", "linear", "--into", $0, "tone", "tone"] }, status: 64,
                               code: "registry.invalid_name", scratch: scratch)
        // NUL cannot travel in argv; the rule itself refuses it (the server applies the same rule to JSON names).
        #expect(throws: RegistryError.self) { try AdapterRef.validateName("to\u{0}ne") }
        #expect(throws: RegistryError.self) { try AdapterRef.parse("tone\u{0}@1") }
        // Legitimate names with '/' and '.' still work.
        try AdapterRef.validateName("team/tone-v2.1")
    }

    @Test func referencesWithNegativeHugeOrMalformedVersionsAreRefused() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let refs = [
            "tone@-1", "tone@0", "tone@9223372036854775808", "tone@18446744073709551616", "tone@99999999999999999999999999",
            "tone@1e3", "tone@0x10", "tone@prod/../x", "tone@\u{1B}[31m", "tone@" + Self.long, "tone@@1", "sha256:" + Self.long,
            "tone@prod'--",
        ]
        try Self.expectRefused(refs.map { ["show", $0] }, status: 64, code: "registry.invalid_", scratch: scratch)
        try Self.expectRefused(refs.map { ["pull", $0, "--output", scratch.directory.appendingPathComponent("out").path] },
                               status: 64, code: "registry.invalid_", scratch: scratch)
        try Self.expectRefused(refs.map { ["merge", "--method", "linear", "--into", "x", "tone", $0] }, status: 64,
                               code: "registry.invalid_", scratch: scratch)
        #expect(!FileManager.default.fileExists(atPath: scratch.directory.appendingPathComponent("out").path))
        // Well-formed numbers beyond any version (the column is 32-bit; Int.max is 2^63 - 1) are simply not found.
        try Self.expectRefused(["2147483648", "3000000000", "9223372036854775807"].map { ["show", "tone@\($0)"] },
                               status: 3, code: "registry.not_found", scratch: scratch)
        // Alias moves to versions past 2^63 or below 1 are usage errors before anything is opened.
        let before = try Self.state(scratch)
        for version in ["9223372036854775808", "-1", "0", "1e3"] {
            let run = try Self.bounded(["alias", "set", "tone", "production", version] + scratch.common)
            #expect(run.status == 64, "\(run.description)")
        }
        #expect(try Self.state(scratch) == before)
    }

    @Test func tagsWithControlCharactersOrHugeValuesAreRefusedAndQuotesAreStoredLiterally() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let a2 = RegistryFixture.golden("a2").path
        let tags = ["k=v\u{1B}[2J", "k=\u{07}bell", "k\u{01}=v", "k=" + String(repeating: "v", count: 100_000), String(repeating: "k", count: 129) + "=v"]
        try Self.expectRefused(tags.map { ["register", a2, "--name", "json", "--tag", $0] }, status: 64, code: "", scratch: scratch)
        let many = (0..<65).flatMap { ["--tag", "k\($0)=v"] }
        try Self.expectRefused([["register", a2, "--name", "json"] + many], status: 64, code: "", scratch: scratch)

        // Quotes, path-like text and confusables are printable text: stored and shown back exactly, never executed.
        let value = "x'); DROP TABLE adapter_versions; -- ../../etc t\u{043E}ne"
        let run = try Self.bounded(["register", a2, "--name", "json", "--tag", "note=\(value)"] + scratch.common)
        #expect(run.status == 0, "\(run.description)")
        let shown = try Self.bounded(["show", "json", "--json"] + scratch.common)
        #expect(shown.stdout.contains("DROP TABLE adapter_versions"))
        #expect(try TestPostgres.psql(scratch.database, "SELECT count(*) FROM adapter_versions") == "3")
    }

    @Test func mergeParametersOutsideTheirRangeOrNotFiniteAreRefused() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let merge = ["merge", "--into", "x", "tone", "tone"]
        let cases: [[String]] = [
            ["--method", "ties", "--density", "nan"], ["--method", "ties", "--density=-0.1"],
            ["--method", "ties", "--density", "1.0000001"], ["--method", "ties", "--density", "inf"],
            ["--method", "slerp", "--t", "nan"], ["--method", "slerp", "--t=-1"], ["--method", "slerp", "--t", "1.5"],
            ["--method", "linear", "--weights", "nan,1"], ["--method", "linear", "--weights", "inf,1"],
            ["--method", "linear", "--weights", "1e309,1"], ["--method", "linear", "--weights=-nan,1"],
            ["--method", "svd", "--svd-rank", "0"], ["--method", "svd", "--svd-rank=-5"],
            ["--method", "svd", "--svd-rank", "99999999999999999999"],
        ]
        try Self.expectRefused(cases.map { merge + $0 }, status: 64, code: "", scratch: scratch)
        // A weights list far longer than the inputs (30,000 entries, near argv's 128 kB per-argument limit; the engine
        // test covers 10^6) is refused by count at once.
        let weights = Array(repeating: "0.5", count: 30_000).joined(separator: ",")
        try Self.expectRefused([merge + ["--method", "linear", "--weights", weights]], status: 64, code: "merge.weight_count",
                               scratch: scratch)
    }

    @Test func aHugeSVDRankIsCappedOrRefusedNeverAnAbort() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let run = try Self.bounded(["merge", "--method", "svd", "--svd-rank", "1000000000", "--into", "big", "tone", "wide"] + scratch.common,
                                   seconds: 60)
        #expect([0, 2].contains(run.status), "capped (0) or refused by policy (2), never an abort: \(run.description)")
        #expect(!run.stderr.contains("allocate"))
        // The merge ran in the child: its scratch directories carry the child's pid (never this test process's,
        // whose other tests merge in process at the same time).
        #expect(run.pid > 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.hasPrefix("quiver-merge-") && $0.contains("-\(run.pid)-") }
        #expect(left.isEmpty)
    }

    @Test func adapterDirectoriesThatLieAreRefusedWithoutBlocking() throws {
        let scratch = try Scratch.make()
        defer { scratch.tearDown() }
        let source = RegistryFixture.golden("a2")
        func copy(_ label: String, replacing file: String?, _ make: (String) throws -> Void = { _ in }) throws -> String {
            let directory = scratch.directory.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in ["adapter_config.json", "adapter_model.safetensors"] {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: directory.appendingPathComponent(name))
            }
            if let file {
                let path = directory.appendingPathComponent(file).path
                try FileManager.default.removeItem(atPath: path)
                try make(path)
            }
            return directory.path
        }
        let outside = try copy("outside-target", replacing: nil)
        let linked = try copy("linked", replacing: "adapter_model.safetensors") { path in
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside + "/adapter_model.safetensors")
        }
        let secret = try copy("secret", replacing: "adapter_config.json") { path in
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/etc/passwd")
        }
        let fifo = try copy("fifo", replacing: "adapter_model.safetensors") { path in
            guard mkfifo(path, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        let device = try copy("device", replacing: "adapter_model.safetensors") { path in
            if mknod(path, S_IFCHR | 0o600, dev_t(0x103)) != 0 {  // /dev/null's numbers; needs root, else a link
                try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
            }
        }
        let bigConfig = try copy("big-config", replacing: "adapter_config.json") { path in
            _ = FileManager.default.createFile(atPath: path, contents: Data("{}".utf8))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: 50_000_000)
            try handle.close()
        }
        let hugeHeader = try copy("huge-header", replacing: "adapter_model.safetensors") { path in
            var bytes = Data()
            withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(Data("{}".utf8))
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        let shapes = Fixtures.root.appendingPathComponent("malformed/lora/rank_mismatch__config_r4").path
        let cases: [(String, String)] = [
            (linked, "lora.link_outside"), (secret, "lora.link_outside"), (fifo, ""), (device, ""),
            (bigConfig, "lora.malformed_config"), (hugeHeader, "safetensors."), (shapes, "lora.rank_mismatch"),
        ]
        for (directory, code) in cases {
            try Self.expectRefused([["register", directory, "--name", "evil"]], status: 2, code: code, scratch: scratch)
            let inspect = try Self.bounded(["inspect", directory])
            #expect(inspect.status == 2, "\(inspect.description)")
        }
    }
}
