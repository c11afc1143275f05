import Foundation
import Merge
import Provenance
import QuiverCore

/// The type URIs Quiver's attestations use. `https://slsa.dev/provenance/v1` is SLSA's; the others name Quiver's
/// own formats (the build type of a merge, the predicate of a registration, the builder) under one namespace.
public enum ProvenanceTypes {
    public static let namespace = "https://quiver.dev"
    /// SLSA provenance v1, for merged versions.
    public static let slsaProvenance = "https://slsa.dev/provenance/v1"
    /// A merge run by Quiver: `externalParameters` is the merge recipe.
    public static let mergeBuildType = "\(namespace)/buildtypes/merge/v1"
    /// What the registry attests about a version it did not build (a registered, trained adapter).
    public static let registrationPredicate = "\(namespace)/attestation/registration/v1"

    /// `runDetails.builder.id`: Quiver at a software version.
    public static func builderID(_ softwareVersion: String) -> String { "\(namespace)/builder/quiver@\(softwareVersion)" }
}

/// The head of the audit trail's hash chain when an attestation was made: every event before it is fixed.
public struct AttestedChainHead: Codable, Sendable, Equatable {
    public let position: Int64
    public let sha256: String
}

/// What publishing changed in the files a statement names, recorded in the statement itself.
public struct PublicationNote: Codable, Sendable, Equatable {
    /// `base_model_name_or_path` as registered and as published (vLLM's resolver needs an exact match).
    public struct BaseModelRewrite: Codable, Sendable, Equatable {
        public let from: String?
        public let to: String
        /// sha256 of `adapter_config.json` as registered (the published one differs by the rewrite).
        public let registeredConfigSHA256: String

        enum CodingKeys: String, CodingKey {
            case from, to
            case registeredConfigSHA256 = "registeredConfigSha256"
        }
    }

    public let baseModelRewrite: BaseModelRewrite?
    /// The serving engine the directory was checked for, and its rank limit.
    public let engine: String
    public let maxLoraRank: Int
}

/// SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) of a merged version.
///
/// `externalParameters` is the merge recipe (``MergeRecipe``); `resolvedDependencies` the parents' files and the
/// base model; `runDetails.builder` Quiver at the version that ran the merge; `runDetails.metadata` the merge's id
/// and time, plus two Quiver fields: `requestedBy` (the actor) and `auditChainHead`.
public struct SLSAProvenance: Codable, Sendable {
    public struct BuildDefinition: Codable, Sendable {
        public let buildType: String
        public let externalParameters: MergeRecipe
        public let internalParameters: InternalParameters
        public let resolvedDependencies: [ResourceDescriptor]
    }

    public struct InternalParameters: Codable, Sendable {
        /// The merge's id in the registry's catalog.
        public let mergeId: Int64
        /// The version the merge produced.
        public let output: String
        public let outputCanonicalDigest: String
        /// Set when this statement describes a published directory.
        public let publication: PublicationNote?
    }

    public struct RunDetails: Codable, Sendable {
        public let builder: Builder
        public let metadata: Metadata
    }

    public struct Builder: Codable, Sendable {
        public let id: String
        public let version: [String: String]
    }

    public struct Metadata: Codable, Sendable {
        public let invocationId: String
        public let finishedOn: Date
        public let requestedBy: String
        public let auditChainHead: AttestedChainHead?
    }

    public let buildDefinition: BuildDefinition
    public let runDetails: RunDetails
}

/// A merge recipe: the method, every parameter (nulls written out), the seed, and the inputs with their weights.
public struct MergeRecipe: Codable, Sendable {
    public struct Input: Codable, Sendable {
        public let ref: String
        public let canonicalDigest: String
        public let weight: Double
    }

    public let method: String
    public let inputs: [Input]
    public let into: String
    public let seed: UInt64
    public let weights: [Double]?
    public let density: Double?
    public let majoritySign: String
    public let svdRank: Int?
    public let t: Double?
    public let allowScalingMismatch: Bool

    init(request: MergeRequest, inputs: [Input], into: String) {
        method = request.method.rawValue
        self.inputs = inputs
        self.into = into
        seed = request.seed
        weights = request.weights
        density = request.density
        majoritySign = request.majoritySign.rawValue
        svdRank = request.svdRank
        t = request.t
        allowScalingMismatch = request.allowScalingMismatch
    }

    enum CodingKeys: String, CodingKey {
        case method, inputs, into, seed, weights, density, majoritySign, svdRank, t, allowScalingMismatch
    }

    /// Every key, nil parameters as JSON null: a reader sees that a parameter was not set, not that it is missing.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(inputs, forKey: .inputs)
        try container.encode(into, forKey: .into)
        try container.encode(seed, forKey: .seed)
        try container.encode(weights, forKey: .weights)
        try container.encode(density, forKey: .density)
        try container.encode(majoritySign, forKey: .majoritySign)
        try container.encode(svdRank, forKey: .svdRank)
        try container.encode(t, forKey: .t)
        try container.encode(allowScalingMismatch, forKey: .allowScalingMismatch)
    }
}

/// What the registry attests about a version it did not build: what was registered, by whom and when.
public struct RegistrationPredicate: Codable, Sendable {
    public struct Version: Codable, Sendable {
        public let name: String
        public let version: Int
        public let kind: String
        public let canonicalDigest: String
        public let baseModel: String
        public let baseRevision: String
        public let rank: Int
        public let loraAlpha: Double
        public let useRslora: Bool
        public let useDora: Bool
        public let targetModules: [String]
        public let tags: [String: String]
    }

    public let version: Version
    public let registeredBy: String
    public let registeredAt: Date
    /// Quiver, as the attesting registry.
    public let attestedBy: SLSAProvenance.Builder
    public let auditChainHead: AttestedChainHead?
    public let publication: PublicationNote?
}
