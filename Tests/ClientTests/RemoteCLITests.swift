import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// The `quiver` process in remote mode against a real `quiver serve` (scratch database, test S3): every registry
/// command, with the same output and exit statuses as local mode on the same registry.
@Suite("quiver in remote mode", .serialized)
struct RemoteCLITests {
    typealias Run = RemoteRegistry.Run

    @Test func registerUploadsOnlyWhatTheServerLacks() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        let first = try registry.remote(["register", RemoteRegistry.golden("a1"), "--name", "tone", "--tag", "team=nlp"], token: registry.writer)
        try #require(first.status == 0, "\(first)")
        #expect(first.stdout.hasPrefix("registered tone@1  trained  r=8 alpha=16  base=quiver-fixtures/tiny-llama"), "\(first)")
        #expect(first.stderr.contains("uploaded adapter_config.json: "), "\(first)")
        #expect(first.stderr.contains("uploaded adapter_model.safetensors: "), "\(first)")
        let uploads = try registry.blobUploads()
        #expect(uploads == 2)

        // The same directory again: both blobs found by HEAD, nothing sent, the existing version returned.
        let again = try registry.remote(["register", RemoteRegistry.golden("a1"), "--name", "tone", "--tag", "team=nlp"], token: registry.writer)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "already registered: " + first.stdout.dropFirst("registered ".count), "\(again)")
        #expect(!again.stderr.split(separator: "\n").contains { $0.hasPrefix("uploaded ") }, "\(again)")
        #expect(again.stderr.components(separatedBy: "already on the server").count == 3, "\(again)")
        #expect(try registry.blobUploads() == uploads)

        // a2 shares a1's config: only its weights go up.
        let second = try registry.remote(["register", RemoteRegistry.golden("a2"), "--name", "json"], token: registry.writer)
        #expect(second.status == 0, "\(second)")
        #expect(second.stderr.contains("adapter_config.json: already on the server"), "\(second)")
        #expect(try registry.blobUploads() == uploads + 1)

        // What was stored is what local mode reads: the version line is the same.
        #expect(try registry.local(["list", "--name", "tone"]).stdout == first.stdout.dropFirst("registered ".count))

        // A malformed directory is refused before anything is sent, exactly as locally.
        let malformed = Fixtures.root.appendingPathComponent("malformed/lora/invalid_config_field__r_string").path
        let remote = try registry.remote(["register", malformed, "--name", "broken"], token: registry.writer)
        let local = try registry.local(["register", malformed, "--name", "broken"])
        #expect(remote.status == 2 && remote.stderr == local.stderr, "\(remote)\n--- local: \(local)")
        #expect(try registry.blobUploads() == uploads + 1)
    }

    @Test func everyCommandGivesLocalModesOutput() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        for (fixture, name) in [("a1", "tone"), ("a2", "json"), ("a4", "wide")] {
            let run = try registry.remote(["register", RemoteRegistry.golden(fixture), "--name", name, "--tag", "team=nlp"], token: registry.writer)
            try #require(run.status == 0, "\(run)")
        }
        for arguments in [["list"], ["list", "--rank", "8", "--tag", "team=nlp"], ["list", "--kind", "merged"], ["list", "--json"],
                          ["show", "tone"], ["show", "wide@1", "--json"], ["show", "nobody"], ["show", "tone@9", "--json"]] {
            try registry.expectSameOutput(arguments, token: registry.reader)
        }

        // Merge within the request; the same request again is the recorded merge, in either mode.
        let merge = ["merge", "--method", "ties", "--density", "0.5", "--into", "blend", "tone", "json"]
        let merged = try registry.remote(merge, token: registry.writer)
        #expect(merged.status == 0, "\(merged)")
        #expect(merged.stdout.hasPrefix("merged into blend@1  merged  r=8") && merged.stdout.hasSuffix("(merge #1)\n"), "\(merged)")
        try registry.expectSameOutput(merge, token: registry.writer)
        try registry.expectSameOutput(merge + ["--json"], token: registry.writer)
        // A refusal: exit 2 and the same error.
        let refused = try registry.expectSameOutput(["merge", "--method", "ties", "--density", "0.5", "--into", "bad", "tone", "wide"], token: registry.writer)
        #expect(refused.status == 2 && refused.stderr.hasPrefix("error: merge.rank_mismatch: "), "\(refused)")

        // Queued: the server's worker runs it.
        let queued = try registry.remote(["merge", "--async", "--method", "linear", "--into", "queued", "tone", "json@1"], token: registry.writer)
        #expect(queued.status == 0 && queued.stdout.hasPrefix("queued merge job 1; "), "\(queued)")
        _ = try RemoteRegistry.poll(seconds: 60) { () -> Run? in
            let job = try registry.remote(["job", "show", "1"], token: registry.reader)
            return job.stdout.contains(#""status" : "succeeded""#) ? job : nil
        }
        try registry.expectSameOutput(["job", "show", "1"], token: registry.reader)
        try registry.expectSameOutput(["job", "show", "99"], token: registry.reader)

        for format in ["text", "json", "dot", "mermaid"] {
            try registry.expectSameOutput(["lineage", "blend", "--format", format], token: registry.reader)
        }
        try registry.expectSameOutput(["lineage", "tone", "--down"], token: registry.reader)

        // Audit by reference, by digest, and by a local file hashed on the client.
        let shown = try JSONSerialization.jsonObject(with: Data(try registry.remote(["show", "blend", "--json"], token: registry.reader).stdout.utf8))
        // Digests print as {"hex": …} objects (SHA256Digest's Codable form), in either mode.
        let digest = ((shown as? [String: Any])?["version"] as? [String: Any])?["weightsDigest"] as? [String: Any]
        let weights = try #require(digest?["hex"] as? String)
        let file = RemoteRegistry.golden("a1") + "/adapter_model.safetensors"
        for arguments in [["audit", "blend"], ["audit", weights], ["audit", weights, "--json"], ["audit", file], ["audit", file, "--json"]] {
            let run = try registry.expectSameOutput(arguments, token: registry.reader)
            #expect(run.status == 0, "\(run)")
        }

        let verified = try registry.expectSameOutput(["verify", "blend"], token: registry.reader)
        #expect(verified.status == 0 && verified.stdout.hasSuffix("verified blend@1\n"), "\(verified)")
        try registry.expectSameOutput(["verify", "queued", "--json"], token: registry.reader)

        // Aliases: a protected alias needs an admin token (403 → 2), then the promotion rule, then --force.
        let denied = try registry.remote(["alias", "set", "blend", "production", "1", "--force"], token: registry.writer)
        #expect(denied.status == 2 && denied.stderr.hasPrefix("error: auth.scope: "), "\(denied)")
        let unproven = try registry.expectSameOutput(["alias", "set", "blend", "production", "1"], token: registry.admin)
        #expect(unproven.status == 2 && unproven.stderr.hasPrefix("error: registry.promotion_refused: "), "\(unproven)")
        let forced = try registry.remote(["alias", "set", "blend", "production", "1", "--force"], token: registry.admin)
        #expect(forced.stdout == "blend@production -> blend@1; FORCED over: blend@1 has no recorded evaluations\n", "\(forced)")
        let staging = try registry.remote(["alias", "set", "blend", "staging", "1"], token: registry.writer)
        #expect(staging.stdout == "blend@staging -> blend@1\n", "\(staging)")
        try registry.expectSameOutput(["show", "blend@production"], token: registry.reader)

        let evaluation = try registry.remote(["eval", "record", "tone", "--suite", "style", "--metric", "acc", "--value", "0.8"], token: registry.writer)
        #expect(evaluation.stdout == "recorded style/acc = 0.8 for tone@1\n", "\(evaluation)")
        try registry.expectSameOutput(["show", "tone"], token: registry.reader)

        let policyDenied = try registry.remote(["policy", "set", "max_merged_rank", "64"], token: registry.writer)
        #expect(policyDenied.status == 2 && policyDenied.stderr.hasPrefix("error: auth.scope: "), "\(policyDenied)")
        let policy = try registry.remote(["policy", "set", "max_merged_rank", "64"], token: registry.admin)
        let shownPolicy = try registry.local(["policy", "show"])
        #expect(policy.status == 0 && policy.stdout == shownPolicy.stdout, "\(policy)")
        try registry.expectSameOutput(["policy", "show"], token: registry.reader)

        try registry.expectSameOutput(["gc", "--grace", "1h", "--dry-run"], token: registry.admin)
        try registry.expectSameOutput(["token", "list"], token: registry.admin)
        #expect(try registry.remote(["token", "list"], token: registry.writer).status == 2)

        // A reader may look but not write: the upload is refused (403 → 2).
        let readOnly = try registry.remote(["register", RemoteRegistry.golden("a3"), "--name", "other"], token: registry.reader)
        #expect(readOnly.status == 2 && readOnly.stderr.contains("error: auth.scope: token viewer has scope read"), "\(readOnly)")
    }

    @Test func pullWritesTheRegisteredBytes() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        for (fixture, name) in [("a1", "tone"), ("a2", "json")] {
            try #require(try registry.remote(["register", RemoteRegistry.golden(fixture), "--name", name], token: registry.writer).status == 0)
        }
        try #require(try registry.remote(["merge", "--method", "svd", "--into", "blend", "tone", "json"], token: registry.writer).status == 0)
        let scratch = try Fixtures.temporaryDirectory("remote-pull")
        defer { try? FileManager.default.removeItem(at: scratch) }

        let pulled = try registry.remote(["pull", "tone", "--output", scratch.appendingPathComponent("tone").path], token: registry.reader)
        #expect(pulled.stdout == "pulled tone@1 into \(scratch.appendingPathComponent("tone").path) (config and weights verified)\n", "\(pulled)")
        #expect(pulled.stderr.contains("downloaded adapter_model.safetensors: "), "\(pulled)")
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: RemoteRegistry.golden("a1")).appendingPathComponent(file))
            #expect(try Data(contentsOf: scratch.appendingPathComponent("tone/\(file)")) == original, "\(file)")
        }

        // A merged version: the same bytes as a local pull.
        let remote = try registry.remote(["pull", "blend", "--output", scratch.appendingPathComponent("remote").path], token: registry.reader)
        let local = try registry.local(["pull", "blend", "--output", scratch.appendingPathComponent("local").path])
        #expect(remote.status == 0 && local.status == 0, "\(remote)\n\(local)")
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(try Data(contentsOf: scratch.appendingPathComponent("remote/\(file)")) == Data(contentsOf: scratch.appendingPathComponent("local/\(file)")))
        }
        // An existing destination is a conflict, before anything is downloaded; an unknown version is not found.
        let exists = try registry.remote(["pull", "tone", "--output", scratch.appendingPathComponent("tone").path], token: registry.reader)
        #expect(exists.status == 2 && exists.stderr.hasPrefix("error: fs.output_exists: "), "\(exists)")
        let missing = try registry.remote(["pull", "tone@7", "--output", scratch.appendingPathComponent("none").path], token: registry.reader)
        #expect(missing.status == 3, "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("none").path))
        // Nothing half-written is left next to the outputs.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["local", "remote", "tone"])
    }

    @Test func aTamperedBlobIsAnIntegrityFailureInEitherMode() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        try #require(try registry.remote(["register", RemoteRegistry.golden("a1"), "--name", "tone"], token: registry.writer).status == 0)
        // Flip one byte of the stored weights behind the registry's back.
        let original = try Data(contentsOf: URL(fileURLWithPath: RemoteRegistry.golden("a1")).appendingPathComponent("adapter_model.safetensors"))
        var tampered = original
        tampered[tampered.count - 1] ^= 1
        let settings = try S3Settings.fromEnvironment(url: registry.server.blobStoreURL, environment: registry.server.environment)
        try S3Client(settings: settings).putObject(key: BlobKey.key(for: SHA256Digest.of(original)), data: tampered)

        let scratch = try Fixtures.temporaryDirectory("remote-tamper")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let remote = try registry.remote(["pull", "tone", "--output", scratch.appendingPathComponent("remote").path], token: registry.reader)
        let local = try registry.local(["pull", "tone", "--output", scratch.appendingPathComponent("local").path])
        #expect(local.status == 1 && local.stderr.hasPrefix("error: objectstore.corrupt_blob: "), "\(local)")
        #expect(remote.status == 1 && remote.stderr.contains("error: objectstore.corrupt_blob: "), "\(remote)")
        // Nothing is left where the output was to go, in either mode.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)

        let verified = try registry.expectSameOutput(["verify", "tone"], token: registry.reader)
        #expect(verified.status == 1 && verified.stdout.contains("FAIL blobs tone@1"), "\(verified)")
    }

    @Test func aMergeTheServerQueuesIsWaitedFor() throws {
        let registry = try RemoteRegistry.start(serveArguments: ["--sync-merge-limit", "1"])
        defer { registry.stop() }
        for (fixture, name) in [("a1", "tone"), ("a2", "json"), ("a4", "wide")] {
            try #require(try registry.remote(["register", RemoteRegistry.golden(fixture), "--name", name], token: registry.writer).status == 0)
        }
        // The server's synchronous limit is 1 byte: it queues every merge, and without --async the client waits.
        let merged = try registry.remote(["merge", "--method", "linear", "--weights", "0.3,0.7", "--into", "big", "tone", "json"], token: registry.writer)
        #expect(merged.status == 0, "\(merged)")
        #expect(merged.stdout.hasPrefix("merged into big@1  merged  r=8") && merged.stdout.hasSuffix("(merge #1)\n"), "\(merged)")
        #expect(merged.stderr.contains("merge queued as job 1"), "\(merged)")
        let json = try registry.remote(["merge", "--method", "cat", "--into", "wider", "tone", "json", "--json"], token: registry.writer)
        let outcome = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((outcome?["version"] as? [String: Any])?["name"] as? String == "wider", "\(json)")
        #expect(outcome?["mergeID"] as? Int == 2, "\(json)")

        // A refusal found by the worker ends as the same refusal (exit 2, the engine's code).
        let refused = try registry.remote(["merge", "--method", "ties", "--density", "0.5", "--into", "bad", "tone", "wide"], token: registry.writer)
        #expect(refused.status == 2, "\(refused)")
        #expect(refused.stderr.contains("error: merge.rank_mismatch: "), "\(refused)")
    }

    @Test func aBadTokenIsUnauthenticated() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        for token in ["qvr_not-a-real-token", nil] {
            let run = try registry.remote(["list", "--json"], token: token)
            #expect(run.status == 2, "\(run)")
            #expect(try run.errorBody()["code"] == "auth.unauthenticated")
            #expect(try run.errorBody()["kind"] == "unauthenticated")
        }
        // Register asks HEAD first, whose 401 has no body: the same code all the same.
        let register = try registry.remote(["register", RemoteRegistry.golden("a1"), "--name", "tone"], token: "qvr_wrong")
        #expect(register.status == 2 && register.stderr.hasPrefix("error: auth.unauthenticated: "), "\(register)")
        // The token never shows in what is printed.
        let secret = "qvr_secret-value-that-must-not-print"
        let shown = try registry.remote(["show", "nobody"], token: secret)
        #expect(!shown.stderr.contains(secret) && !shown.stdout.contains(secret))
        #expect(try registry.blobUploads() == 0)
    }
}

/// Remote mode without a server: what is refused before anything is sent, and a server that does not answer.
@Suite("quiver remote mode without a server")
struct RemoteModeOptionTests {
    @Test(arguments: [
        ["list", "--server", "http://127.0.0.1:9", "--database-url", "postgresql://x@127.0.0.1/db"],
        ["list", "--server", "http://127.0.0.1:9", "--blob-store", "/tmp/blobs"],
        ["register", ".", "--name", "x", "--server", "http://127.0.0.1:9", "--actor", "me"],
        ["list", "--server", "ftp://127.0.0.1"],
        ["list", "--server", "http://user:password@127.0.0.1:9"],
        ["worker", "--once", "--server", "http://127.0.0.1:9"],
        ["fsck", "--server", "http://127.0.0.1:9"],
        ["audit", "--head", "--server", "http://127.0.0.1:9"],
        ["serve", "--server", "http://127.0.0.1:9"],
    ])
    func usageErrors(arguments: [String]) throws {
        let run = try RemoteRegistry.quiver(arguments)
        #expect(run.status == 64, "\(run)")
        #expect(!run.stderr.contains("password"), "\(run)")
    }

    @Test func localFlagsAreRefusedWhenQuiverServerIsSet() throws {
        let run = try RemoteRegistry.quiver(["list", "--database-url", "postgresql://x@127.0.0.1/db", "--json"], environment: ["QUIVER_SERVER": "http://127.0.0.1:9"])
        #expect(run.status == 64, "\(run)")
        #expect(try run.errorBody()["code"] == "cli.local_option_with_server")
    }

    @Test func aServerThatDoesNotAnswerIsUnavailableWithinSeconds() throws {
        let port = try TestServer.freeLoopbackPort()
        let run = try RemoteRegistry.quiver(["list", "--json"], environment: ["QUIVER_SERVER": "http://127.0.0.1:\(port)", "QUIVER_TOKEN": "qvr_x"])
        #expect(run.status == 4, "\(run)")
        #expect(try run.errorBody()["code"] == "client.unreachable")
        #expect(try run.errorBody()["kind"] == "unavailable")
        #expect(run.seconds < 10, "\(run.seconds) s")
    }
}
