import Foundation
import ObjectStore
import Provenance
import QuiverCore
import QuiverTesting
import Testing

/// `publish`, `attest` and `key public` in remote mode: the server checks and signs, the client writes the
/// directory with the weights pulled through the API; the result is what local mode writes on the same registry.
@Suite("publish and attest in remote mode", .serialized)
struct RemotePublishTests {
    @Test func remotePublishWritesTheSameSignedDirectoryAsLocalMode() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        for (fixture, name) in [("a1", "tone"), ("a2", "json")] {
            let run = try registry.remote(["register", RemoteRegistry.golden(fixture), "--name", name], token: registry.writer)
            try #require(run.status == 0, "\(run)")
        }
        let merged = try registry.remote(["merge", "--method", "ties", "--density", "0.5", "--into", "blend", "tone", "json"], token: registry.writer)
        try #require(merged.status == 0, "\(merged)")
        let scratch = try Fixtures.temporaryDirectory("remote-publish")
        defer { try? FileManager.default.removeItem(at: scratch) }

        // The server's key, through the API (no token needed for it) and as local mode reads it on the same home.
        let remoteKey = try registry.remote(["key", "public"], token: nil)
        #expect(remoteKey.status == 0 && remoteKey.stdout.hasPrefix("-----BEGIN PUBLIC KEY-----"), "\(remoteKey)")
        let localKey = try RemoteRegistry.quiver(["key", "public"], environment: registry.server.environment)
        #expect(localKey.stdout == remoteKey.stdout, "one registry, one key")
        let keyFile = scratch.appendingPathComponent("server.pub")
        try Data(remoteKey.stdout.utf8).write(to: keyFile)

        // A refusal comes back as the same named error and exit status; nothing is written.
        let refusedOut = scratch.appendingPathComponent("refused")
        let refused = try registry.remote(["publish", "blend", "--to", refusedOut.path, "--max-lora-rank", "4"], token: registry.reader)
        #expect(refused.status == 2 && refused.stderr.contains("error: publish.rank_exceeds_engine_limit: "), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: refusedOut.path))

        // A read token publishes: the server signs, the client writes.
        let remoteOut = scratch.appendingPathComponent("remote", isDirectory: true)
        let published = try registry.remote(["publish", "blend", "--to", remoteOut.path, "--base-model", "/models/tiny"], token: registry.reader)
        #expect(published.status == 0 && published.stdout.hasPrefix("published blend@1 as \(remoteOut.path)/blend-"), "\(published)")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: remoteOut.path).first)
        let directory = remoteOut.appendingPathComponent(name, isDirectory: true)
        let again = try registry.remote(["publish", "blend", "--to", remoteOut.path, "--base-model", "/models/tiny"], token: registry.reader)
        #expect(again.status == 0 && again.stdout.hasPrefix("already published: blend@1"), "\(again)")

        // Local mode on the same registry writes the same adapter files under the same name.
        let localOut = scratch.appendingPathComponent("local", isDirectory: true)
        let local = try registry.local(["publish", "blend", "--to", localOut.path, "--base-model", "/models/tiny"])
        #expect(local.status == 0, "\(local)")
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(try Data(contentsOf: directory.appendingPathComponent(file)) == Data(contentsOf: localOut.appendingPathComponent(name).appendingPathComponent(file)), "\(file)")
        }

        // The provenance verifies with the server's key (given, or fetched), every file re-hashed.
        let provenance = directory.appendingPathComponent("provenance.intoto.jsonl").path
        let verified = try registry.remote(["attest", "--verify", provenance, "--dir", directory.path], token: registry.reader)
        #expect(verified.status == 0 && verified.stdout.contains("https://slsa.dev/provenance/v1 over 2 file(s)"), "\(verified)")
        let offline = try RemoteRegistry.quiver(["attest", "--verify", provenance, "--dir", directory.path, "--public-key", keyFile.path])
        #expect(offline.status == 0, "\(offline)")
        if ModelSigningTool.executable != nil {
            let accepted = try ModelSigningTool.verify(directory: directory, publicKey: keyFile)
            #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")
        }

        // To S3 from the client, with the client's own AWS settings: the same objects, quiver.json among them.
        let s3 = try TestS3.require()
        let prefix = "s3://\(s3.bucket)/remote-pub-\(UUID().uuidString.lowercased())"
        let clientEnvironment = s3.awsEnvironment.merging(["QUIVER_SERVER": registry.server.baseURL, "QUIVER_TOKEN": registry.reader]) { $1 }
        let toS3 = try RemoteRegistry.quiver(["publish", "blend", "--to", prefix, "--base-model", "/models/tiny"], environment: clientEnvironment)
        #expect(toS3.status == 0 && toS3.stdout.hasPrefix("published blend@1 as \(prefix)/\(name) "), "\(toS3)")
        let client = S3Client(settings: try S3Settings.fromEnvironment(url: "\(prefix)/\(name)", environment: s3.awsEnvironment))
        defer { for file in ["adapter_config.json", "adapter_model.safetensors", "model.sig", "provenance.intoto.jsonl", "quiver.json"] { try? client.deleteObject(key: file) } }
        #expect(try client.getObjectData(key: "adapter_config.json") == Data(contentsOf: directory.appendingPathComponent("adapter_config.json")))
        let againToS3 = try RemoteRegistry.quiver(["publish", "blend", "--to", prefix, "--base-model", "/models/tiny"], environment: clientEnvironment)
        #expect(againToS3.status == 0 && againToS3.stdout.hasPrefix("already published: blend@1"), "\(againToS3)")

        // attest REF through the API; a reference the server lacks is not_found (3).
        let attestation = scratch.appendingPathComponent("blend.intoto.jsonl").path
        let written = try registry.remote(["attest", "blend@1", "--output", attestation], token: registry.reader)
        #expect(written.status == 0, "\(written)")
        let envelope = try DSSEEnvelope.parse(try Data(contentsOf: URL(fileURLWithPath: attestation)))
        let check = try AttestationVerifier.verify(envelope, key: try PublicKey(pem: remoteKey.stdout), directory: nil)
        #expect(check.predicateType == "https://slsa.dev/provenance/v1")
        #expect(try registry.remote(["attest", "nobody"], token: registry.reader).status == 3)
    }
}
