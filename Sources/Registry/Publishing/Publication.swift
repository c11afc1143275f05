import Foundation
import LoRA
import Provenance
import QuiverCore

/// What `publish` asks for: the engine to check against and an optional rewrite of the base model's name. Also the
/// body of `POST /v1/versions/{ref}/publication`.
public struct PublishRequest: Sendable, Codable, Equatable {
    public var requirements: EngineRequirements
    /// The served model's name, written into `base_model_name_or_path` (vLLM's filesystem resolver needs an exact
    /// match); nil keeps the registered one.
    public var baseModel: String?

    public init(requirements: EngineRequirements = EngineRequirements(), baseModel: String? = nil) {
        self.requirements = requirements
        self.baseModel = baseModel
    }
}

/// A version ready to be written as a published directory: every file with its digest and size, the small ones
/// with their bytes; the weights come from the registry by digest. The same value whether the registry made it
/// in this process or a server did (`POST /v1/versions/{ref}/publication`), so local and remote mode write the
/// same directory.
public struct Publication: Sendable, Codable, Equatable {
    public struct File: Sendable, Codable, Equatable {
        public let name: String
        public let sha256: SHA256Digest
        public let size: Int64
        /// The bytes, except for the weights (fetched from the registry by ``sha256``).
        public let content: Data?

        public init(name: String, sha256: SHA256Digest, size: Int64, content: Data?) {
            self.name = name
            self.sha256 = sha256
            self.size = size
            self.content = content
        }
    }

    /// The file names of a published directory.
    public static let manifestFileName = "quiver.json"
    public static let provenanceFileName = "provenance.intoto.jsonl"

    public let version: AdapterVersion
    /// `NAME-<first 12 hex of the canonical digest>` (a `/` in the name becomes `_`).
    public let directoryName: String
    /// Every file, in writing order: the weights first, `quiver.json` last.
    public let files: [File]

    public init(version: AdapterVersion, directoryName: String, files: [File]) {
        self.version = version
        self.directoryName = directoryName
        self.files = files
    }

    /// The directory name for a version.
    public static func directoryName(for version: AdapterVersion) -> String {
        "\(version.name.replacingOccurrences(of: "/", with: "_"))-\(version.canonicalDigest.hex.prefix(12))"
    }

    public func file(_ name: String) -> File? { files.first { $0.name == name } }

    /// The manifest this publication writes as `quiver.json`.
    public func manifest() throws -> PublicationManifest {
        guard let data = file(Self.manifestFileName)?.content else { throw RegistryError.internal("a publication without \(Self.manifestFileName)") }
        return try PublicationManifest.decode(data, what: Self.manifestFileName)
    }
}

/// `quiver.json` of a published directory: which version it is, every adapter file's sha256 and size, where the
/// provenance and the signature are, the base-model rewrite if any, and the Quiver version that published it.
public struct PublicationManifest: Sendable, Codable, Equatable {
    public struct FileEntry: Sendable, Codable, Equatable {
        public let name: String
        public let sha256: String
        public let size: Int64
    }

    public struct Rewrite: Sendable, Codable, Equatable {
        public let from: String?
        public let to: String
        public let registeredConfigSHA256: String

        enum CodingKeys: String, CodingKey {
            case from, to
            case registeredConfigSHA256 = "registered_config_sha256"
        }
    }

    public struct Provenance: Sendable, Codable, Equatable {
        /// The DSSE envelope (one JSON line) holding the in-toto statement over the adapter files.
        public let path: String
        /// The envelope file's sha256 (it differs between two signings of the same content: ECDSA is randomized).
        public let sha256: String
        public let predicateType: String
        /// sha256 of the signing key's public PEM (`quiver key public | sha256sum`).
        public let publicKeySHA256: String
        /// The OpenSSF model-signing bundle over every file of the directory.
        public let modelSignature: String

        enum CodingKeys: String, CodingKey {
            case path, sha256
            case predicateType = "predicate_type"
            case publicKeySHA256 = "public_key_sha256"
            case modelSignature = "model_signature"
        }
    }

    public static let format = "quiver-publication/v1"

    public let format: String
    public let reference: String
    public let name: String
    public let version: Int
    public let kind: String
    public let canonicalDigest: String
    public let baseModel: String?
    public let baseModelRewrite: Rewrite?
    public let engine: String
    public let maxLoraRank: Int
    /// The adapter files (`adapter_config.json` as published, `adapter_model.safetensors`).
    public let files: [FileEntry]
    public let provenance: Provenance
    public let quiverVersion: String

    enum CodingKeys: String, CodingKey {
        case format, reference, name, version, kind, files, provenance, engine
        case canonicalDigest = "canonical_sha256"
        case baseModel = "base_model"
        case baseModelRewrite = "base_model_rewrite"
        case maxLoraRank = "max_lora_rank"
        case quiverVersion = "quiver_version"
    }

    /// Two publications hold the same content when the version's canonical digest and every adapter file agree
    /// (who published it, for which engine and with which signature does not change what is served).
    public func sameContent(as other: PublicationManifest) -> Bool {
        canonicalDigest == other.canonicalDigest && Set(files.map { "\($0.name) \($0.sha256) \($0.size)" }) == Set(other.files.map { "\($0.name) \($0.sha256) \($0.size)" })
    }

    public func encoded() throws -> Data {
        var data = try JSONOutput.encoder().encode(self)
        data.append(0x0A)
        return data
    }

    static func decode(_ data: Data, what: String) throws -> PublicationManifest {
        do {
            return try JSONDecoder().decode(PublicationManifest.self, from: data)
        } catch {
            throw RegistryError(.conflict, code: "publish.conflict", reason: "\(what) exists but is not a Quiver publication manifest",
                                hint: "publish into another --to location; Quiver never overwrites what it did not write")
        }
    }
}
