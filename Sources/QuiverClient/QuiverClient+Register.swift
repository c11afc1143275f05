import Foundation
import LoRA
import ObjectStore
import QuiverCore
import Registry

extension QuiverClient {
    /// The directory validated here exactly as local `register` validates it (``RegistryService/register(directory:name:tags:baseRevision:)``),
    /// uploads the files the server does not
    /// have yet (HEAD first, then a streamed PUT with Content-Length, the file never loaded whole), and records
    /// the version (`POST /v1/versions`), where the server validates the stored files once more.
    public func register(validated adapter: LoRAAdapter, name: String, tags: [String: String], baseRevision: String?) throws -> RegisterOutcome {
        let directory = adapter.directory
        try upload(label: LoRAAdapter.configFileName, digest: adapter.configDigest, size: Int64(adapter.configBytes.count),
                   body: .data(adapter.configBytes))
        let weights = directory.appendingPathComponent(LoRAAdapter.weightsFileName)
        let size = Int64(adapter.weights.fileSize)
        try upload(label: LoRAAdapter.weightsFileName, digest: adapter.weightsDigest, size: size,
                   body: .file(path: weights.path, offset: 0, length: size, expected: adapter.weightsDigest))
        let body = RegisterBody(name: name, configSHA256: adapter.configDigest.hex, weightsSHA256: adapter.weightsDigest.hex,
                                tags: tags, baseRevision: baseRevision)
        // Identical content returns the existing version, so sending it twice does no harm.
        let call = APIConnection.Call("POST", ["v1", "versions"], body: try APIConnection.body(body), contentType: "application/json",
                                      repetition: .safe, stall: settings.computeTimeout)
        return try connection.json(RegisterOutcome.self, call, expected: [200, 201])
    }

    /// Whether the server stores the blob with this size (`HEAD /v1/blobs/{sha256}`).
    func hasBlob(_ digest: SHA256Digest, size: Int64) throws -> Bool {
        let call = read(["v1", "blobs", digest.hex])
        var head = call
        head.method = "HEAD"
        let response = try connection.perform(head)
        if response.status == 404 { return false }
        try connection.check(response, head, expected: [200])
        return response.headers["content-length"].flatMap(Int64.init) == size
    }

    /// Uploads one blob unless the server has it; says which on the progress output.
    func upload(label: String, digest: SHA256Digest, size: Int64, body: HTTPRequest.Body) throws {
        if try hasBlob(digest, size: size) {
            progress.note("\(label): already on the server (sha256:\(digest.hex.prefix(12))…), not uploaded")
            return
        }
        let bar = progress.transfer(.upload, label: label, total: size)
        // Content-addressed: a repeated PUT stores the same bytes under the same key.
        let call = APIConnection.Call("PUT", ["v1", "blobs", digest.hex], body: body, contentType: "application/octet-stream",
                                      repetition: .safe, stall: settings.stallTimeout)
        do {
            let response = try connection.perform(call) { bar.update($0) }
            try connection.check(response, call, expected: [200, 201])
        } catch {
            bar.abandon()
            throw error
        }
        bar.finish()
    }
}

/// `POST /v1/versions`.
struct RegisterBody: Encodable {
    let name: String
    let configSHA256: String
    let weightsSHA256: String
    let tags: [String: String]
    let baseRevision: String?

    enum CodingKeys: String, CodingKey {
        case name, tags
        case configSHA256 = "config_sha256"
        case weightsSHA256 = "weights_sha256"
        case baseRevision = "base_revision"
    }
}
