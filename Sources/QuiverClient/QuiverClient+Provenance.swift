import Foundation
import LoRA
import ObjectStore
import Provenance
import QuiverCore
import Registry

extension QuiverClient {
    /// `GET /v1/versions/{ref}/attestation`: the DSSE envelope the server signed.
    public func attestation(of ref: AdapterRef) throws -> DSSEEnvelope {
        try connection.json(DSSEEnvelope.self, read(["v1", "versions", ref.description, "attestation"]))
    }

    /// `GET /v1/signing-key`: the server's public key, PEM.
    public func signingPublicKey() throws -> String {
        let call = read(["v1", "signing-key"])
        let response = try connection.perform(call)
        try connection.check(response, call, expected: [200])
        return String(decoding: response.body, as: UTF8.self)
    }

    /// `POST /v1/versions/{ref}/publication`: the server checks the engine's rules and signs; nothing is written
    /// there, so the request may be repeated.
    public func publication(of ref: AdapterRef, request: PublishRequest) throws -> Publication {
        let body = PublicationBody(
            engine: request.requirements.engine.rawValue, maxLoraRank: request.requirements.maxLoraRank,
            baseModel: request.baseModel, baseModules: request.requirements.baseModules)
        let call = APIConnection.Call(
            "POST", ["v1", "versions", ref.description, "publication"], body: try APIConnection.body(body), contentType: "application/json",
            repetition: .safe, stall: settings.stallTimeout)
        return try connection.json(Publication.self, call)
    }

    /// `GET /v1/blobs/{sha256}` into `file`, hashed as it streams.
    public func fetchBlob(_ digest: SHA256Digest, size: Int64, to file: URL) throws {
        try download(digest, size: size, label: file.lastPathComponent, to: file)
    }
}

/// The body of `POST /v1/versions/{ref}/publication`.
struct PublicationBody: Encodable {
    let engine: String
    let maxLoraRank: Int
    let baseModel: String?
    let baseModules: [String]?

    enum CodingKeys: String, CodingKey {
        case engine
        case maxLoraRank = "max_lora_rank"
        case baseModel = "base_model"
        case baseModules = "base_modules"
    }
}
