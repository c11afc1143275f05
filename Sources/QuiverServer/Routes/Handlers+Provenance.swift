import Hummingbird
import Provenance
import QuiverCore
import Registry

extension Handlers {
    /// `POST /v1/versions/{ref}/publication`.
    struct PublicationBody: RequestBody {
        static let keys: Set<String> = ["engine", "max_lora_rank", "base_model", "base_modules"]
        let engine: String?
        let maxLoraRank: Int?
        let baseModel: String?
        let baseModules: [String]?

        enum CodingKeys: String, CodingKey {
            case engine
            case maxLoraRank = "max_lora_rank"
            case baseModel = "base_model"
            case baseModules = "base_modules"
        }

        /// The request, each field checked on its own (no I/O).
        func request() throws -> PublishRequest {
            var requirements = EngineRequirements()
            if let engine {
                guard let parsed = ServingEngine(rawValue: engine) else { throw ServerError.invalid("engine '\(engine.prefix(32))' is not vllm or lorax") }
                requirements.engine = parsed
            }
            if let maxLoraRank {
                guard (1...65_536).contains(maxLoraRank) else { throw ServerError.invalid("max_lora_rank \(maxLoraRank) is not between 1 and 65536") }
                requirements.maxLoraRank = maxLoraRank
            }
            if let baseModules {
                guard !baseModules.isEmpty, baseModules.count <= 512, baseModules.allSatisfy({ !$0.isEmpty && $0.count <= 128 }) else {
                    throw ServerError.invalid("base_modules must list 1-512 module names of 1-128 characters")
                }
                requirements.baseModules = baseModules
            }
            if let baseModel, baseModel.isEmpty || baseModel.count > 256 {
                throw ServerError.invalid("base_model must have 1-256 characters")
            }
            return PublishRequest(requirements: requirements, baseModel: baseModel)
        }
    }

    /// The version's DSSE envelope, signed now (never cached: the audit chain head moves, signatures are randomized).
    static func attestation(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let (_, version) = try await resolve(call)
        let envelope = try await call.registry { try $0.attestation(of: version) }
        return try call.json(envelope, headers: [.cacheControl: "no-store"])
    }

    /// The registry's public key, PEM: public, so anyone holding a published directory can check it.
    static func signingKey(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let registry = call.server.registry
        let pem = try await call.server.executor.run { try registry.signingPublicKey() }
        return Response(status: .ok, headers: [.contentType: "application/x-pem-file"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: pem)))
    }

    /// Checks the version against the engine, rewrites the base model when asked, and signs; the client writes
    /// the directory (nothing is written here).
    static func publication(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let request = try await call.json(PublicationBody.self).request()
        let (ref, version) = try await resolve(call)
        let publication = try await call.registry { try $0.publication(of: .version(name: version.name, number: version.version), request: request) }
        call.logger.info("publication signed", metadata: ["version": "\(version.label)", "ref": "\(ref)", "engine": "\(request.requirements.engine.rawValue)"])
        return try call.json(publication, headers: [.cacheControl: "no-store"])
    }
}
