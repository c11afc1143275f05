import Foundation
import QuiverCore

/// A signature in the OpenSSF model-signing format (`model_signing` 1.1, "https://model_signing/signature/v1.0"),
/// as `model_signing verify key DIR --signature DIR/model.sig --public_key KEY.pem` checks it: a Sigstore bundle
/// v0.3 holding a DSSE envelope whose payload is an in-toto statement with
///
/// - one subject: the model's name (its directory's name; informative only) and, as its sha256, the sha256 of the
///   concatenated raw sha256 digests of every file, in name order;
/// - the predicate `{"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false,
///   "ignore_paths": [...]}, "resources": [{"name", "algorithm": "sha256", "digest"}, ...]}`, resources in name order.
///
/// The verifier re-hashes every file of the directory except the ignored ones (the signature itself and git's
/// files), so the files listed must be exactly the directory's. The bundle's `verificationMaterial.publicKey.hint`
/// is the sha256 of the public key's PEM, which the verifier compares with the key it is given.
public enum ModelSigningBundle {
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    public static let predicateType = "https://model_signing/signature/v1.0"
    /// The signature's file name in a published directory.
    public static let fileName = "model.sig"
    /// What `model_signing sign` itself records as ignored (git's files, and the signature).
    public static let ignorePaths = [".gitignore", ".gitattributes", ".github", ".git", fileName]

    /// One file of the model: its path relative to the model directory and its sha256.
    public struct File: Sendable, Equatable {
        public let name: String
        public let sha256: SHA256Digest

        public init(name: String, sha256: SHA256Digest) {
            self.name = name
            self.sha256 = sha256
        }
    }

    struct Serialization: Codable {
        let method: String
        let hashType: String
        let allowSymlinks: Bool
        let ignorePaths: [String]

        enum CodingKeys: String, CodingKey {
            case method
            case hashType = "hash_type"
            case allowSymlinks = "allow_symlinks"
            case ignorePaths = "ignore_paths"
        }
    }

    struct Resource: Codable {
        let name: String
        let algorithm: String
        let digest: String
    }

    struct Predicate: Codable, Sendable {
        let serialization: Serialization
        let resources: [Resource]
    }

    struct Bundle: Codable {
        struct VerificationMaterial: Codable {
            struct KeyHint: Codable { let hint: String }
            let publicKey: KeyHint
            let tlogEntries: [String]
        }

        let mediaType: String
        let verificationMaterial: VerificationMaterial
        let dsseEnvelope: DSSEEnvelope
    }

    /// The statement `model_signing` expects for these files (sorted by name here).
    public static func statement(modelName: String, files: [File]) throws -> Data {
        let sorted = files.sorted { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }
        var hasher = SHA256Hasher()
        for file in sorted { hasher.update(bytes(ofHex: file.sha256.hex)) }
        let predicate = Predicate(
            serialization: Serialization(method: "files", hashType: "sha256", allowSymlinks: false, ignorePaths: ignorePaths),
            resources: sorted.map { Resource(name: $0.name, algorithm: "sha256", digest: $0.sha256.hex) })
        let statement = InTotoStatement(
            subject: [ResourceDescriptor(name: modelName, digest: ["sha256": hasher.finalize().hex])], predicateType: predicateType,
            predicate: predicate)
        return try statement.payload()
    }

    /// `model.sig`'s bytes: the bundle signed by `key`.
    public static func sign(modelName: String, files: [File], with key: SigningKey) throws -> Data {
        var envelope = try DSSEEnvelope.sign(payload: try statement(modelName: modelName, files: files), with: key)
        // model_signing writes an empty keyid and identifies the key by the bundle's hint instead.
        envelope = DSSEEnvelope(payloadType: envelope.payloadType, payload: envelope.payload,
                                signatures: envelope.signatures.map { .init(keyid: "", sig: $0.sig) })
        let bundle = Bundle(
            mediaType: mediaType,
            verificationMaterial: .init(publicKey: .init(hint: key.publicKey.keyID), tlogEntries: []),
            dsseEnvelope: envelope)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(bundle)
    }

    /// Checks a bundle as model_signing does (media type, key hint, DSSE signature, statement type, predicate type,
    /// root digest) and returns the files it lists; nothing is hashed here.
    public static func verify(_ data: Data, with key: PublicKey) throws -> [File] {
        guard let bundle = try? JSONDecoder().decode(Bundle.self, from: data), bundle.mediaType == mediaType else {
            throw ProvenanceError.malformed("\(fileName) is not a Sigstore bundle v0.3 with a DSSE envelope")
        }
        guard bundle.verificationMaterial.publicKey.hint == key.keyID else {
            throw ProvenanceError(.integrity, code: "key_mismatch", reason: "\(fileName) was signed by another key than the one given",
                                  hint: "verify with the registry's public key ('quiver key public')")
        }
        let payload = try bundle.dsseEnvelope.verifiedPayload(with: key, what: fileName)
        let header = try StatementHeader.parse(payload)
        guard header.predicateType == predicateType,
              let statement = try? JSONDecoder().decode(InTotoStatement<Predicate>.self, from: payload),
              let digest = header.subject.first?.digest?["sha256"], header.subject.count == 1
        else { throw ProvenanceError.malformed("\(fileName) does not hold a model-signing v1.0 statement") }
        var files: [File] = []
        var hasher = SHA256Hasher()
        for resource in statement.predicate.resources {
            guard resource.algorithm == "sha256", let sha = SHA256Digest(hex: resource.digest) else {
                throw ProvenanceError.malformed("\(fileName) lists \(resource.name) with an unsupported digest")
            }
            hasher.update(bytes(ofHex: sha.hex))
            files.append(File(name: resource.name, sha256: sha))
        }
        guard hasher.finalize().hex == digest else { throw ProvenanceError.malformed("\(fileName)'s root digest does not match its resources") }
        return files
    }

    static func bytes(ofHex hex: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for c in hex.utf8 {
            let value: UInt8 = c <= 57 ? c - 48 : c - 87
            if let h = high { out.append(h << 4 | value); high = nil } else { high = value }
        }
        return out
    }
}
