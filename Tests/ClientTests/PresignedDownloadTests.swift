import Foundation
import QuiverCore
import QuiverTesting
import Testing

/// `quiver serve --presign-downloads`: a download that allows it (`?redirect=true`, as the CLI asks) is answered
/// with a redirect to a presigned S3 URL, so the bytes go from SeaweedFS to the client directly; the client still
/// verifies every byte against the digest.
@Suite("presigned downloads", .serialized)
struct PresignedDownloadTests {
    static let golden = Fixtures.peftGolden.appendingPathComponent("adapters", isDirectory: true)

    @Test func aLargeBlobIsRedirectedToTheStoreAndPulledVerified() throws {
        let registry = try RemoteRegistry.start(serveArguments: ["--presign-downloads", "--presign-min-size", "4KiB"])
        defer { registry.stop() }
        let adapter = Self.golden.appendingPathComponent("a1")
        try #require(try registry.remote(["register", adapter.path, "--name", "tone"], token: registry.writer).status == 0)
        let weights = adapter.appendingPathComponent("adapter_model.safetensors")
        let digest = try SHA256Digest.ofFile(at: weights).hex
        let size = try #require(try FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? Int)

        // The API: 307 with a presigned Location only when asked for and above the size floor.
        let redirected = try registry.server.request("GET", "/v1/blobs/\(digest)?redirect=true", token: registry.reader)
        #expect(redirected.status == 307, "\(redirected)")
        let location = try #require(redirected.headers["location"])
        #expect(location.contains("X-Amz-Signature="))
        #expect(!location.contains(registry.reader), "the bearer token is not in the URL")
        let streamed = try registry.server.request("GET", "/v1/blobs/\(digest)", token: registry.reader)
        #expect(streamed.status == 200 && streamed.body.count == size)
        let config = try SHA256Digest.ofFile(at: adapter.appendingPathComponent("adapter_config.json")).hex
        #expect(try registry.server.request("GET", "/v1/blobs/\(config)?redirect=true", token: registry.reader).status == 200,
                "a blob below --presign-min-size is streamed")
        #expect(try registry.server.request("GET", "/v1/blobs/\(digest)?redirect=true").status == 401, "no token, no URL")

        // The URL works without any token, for the whole blob and for a range; changed, it does not.
        let scratch = try Fixtures.temporaryDirectory("presign")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let direct = scratch.appendingPathComponent("direct")
        let fetched = try ChildProcess.run("curl", ["-sS", "-o", direct.path, "-w", "%{http_code}", location])
        #expect(fetched.stdout == "200")
        #expect(try SHA256Digest.ofFile(at: direct).hex == digest)
        let ranged = try ChildProcess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H", "Range: bytes=0-99", location])
        #expect(ranged.stdout == "206 100")
        let tampered = location.replacingOccurrences(of: digest, with: String(repeating: "0", count: 64))
        let refused = try ChildProcess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered])
        #expect(refused.stdout == "403", "the signature covers the key")

        // The CLI follows the redirect and verifies what it wrote.
        let output = scratch.appendingPathComponent("pulled")
        let pull = try registry.remote(["pull", "tone@1", "--output", output.path], token: registry.reader)
        #expect(pull.status == 0, "\(pull)")
        #expect(try SHA256Digest.ofFile(at: output.appendingPathComponent("adapter_model.safetensors")).hex == digest)
        let metrics = try registry.server.request("GET", "/metrics").text
        #expect(metrics.contains(#"route="/v1/blobs/{sha256}",status="307""#), "the pull went by the redirect")
    }

    @Test func aServerWithoutPresigningStreams() throws {
        let registry = try RemoteRegistry.start()
        defer { registry.stop() }
        let adapter = Self.golden.appendingPathComponent("a1")
        try #require(try registry.remote(["register", adapter.path, "--name", "tone"], token: registry.writer).status == 0)
        let digest = try SHA256Digest.ofFile(at: adapter.appendingPathComponent("adapter_model.safetensors")).hex
        #expect(try registry.server.request("GET", "/v1/blobs/\(digest)?redirect=true", token: registry.reader).status == 200)
        #expect(try registry.server.request("GET", "/v1/blobs/\(digest)?redirect=maybe", token: registry.reader).status == 400)
    }
}
