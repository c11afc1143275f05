import Foundation
import QuiverTesting
import Testing

/// `quiver demo` through a server: the same story, step by step, as on a local registry.
@Suite("quiver demo in remote mode", .serialized)
struct RemoteDemoTests {
    @Test func theDemoRunsThroughTheServerWithLocalModesStory() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        let scratch = try Fixtures.temporaryDirectory("remote-demo")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let remote = try registry.remote(["demo", "--workdir", scratch.appendingPathComponent("remote").path], token: registry.admin)
        try #require(remote.status == 0, "\(remote)")

        // The same story on a registry of its own in local mode, acting under the admin token's name.
        let database = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: database) }
        let blobs = scratch.appendingPathComponent("local-blobs").path
        let local = try RemoteRegistry.quiver(
            ["demo", "--workdir", scratch.appendingPathComponent("local").path, "--database-url", database, "--blob-store", blobs, "--actor", "ops"],
            environment: ["QUIVER_HOME": scratch.appendingPathComponent("local-home").path])
        try #require(local.status == 0, "\(local)")

        let remoteLines = remote.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let localLines = local.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(remoteLines.first?.hasSuffix("demo: server \(registry.server.baseURL), acting as the token's name") == true, "\(remote)")
        #expect(localLines.first?.contains("demo: catalog ready, blobs in file://\(blobs)/, acting as ops") == true, "\(local)")
        // Every line after the first is the same but for the times things happened.
        #expect(Self.timeless(remoteLines.dropFirst()) == Self.timeless(localLines.dropFirst()))
        let last = remoteLines.last(where: { !$0.isEmpty }).map(String.init) ?? ""
        #expect(last.hasPrefix("The story checks out: assistant@1 is exactly what its recorded inputs and recipe produce, and published/assistant-"), "\(last)")
        #expect(last.hasSuffix(" is exactly what its signed provenance names."), "\(last)")
        // It ends by publishing the production adapter and verifying its provenance, file by file.
        #expect(remote.stdout.contains("== 9. Publish assistant@production"), "\(remote)")
        #expect(remote.stdout.contains("ok   adapter_model.safetensors sha256:") && remote.stdout.contains("(re-hashed)"), "\(remote)")
        let published = scratch.appendingPathComponent("remote/published")
        #expect(try FileManager.default.contentsOfDirectory(atPath: published.path).count == 1)
        #expect(remote.stderr.contains("uploaded adapter_model.safetensors: "), "\(remote)")
    }

    /// The lines with every ISO 8601 time replaced by `<time>`.
    static func timeless(_ lines: ArraySlice<Substring>) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"#)
        return lines.map { line in
            let text = String(line)
            return pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "<time>")
        }
    }
}
