import Foundation
import Postgres
import QuiverCore

/// One registered adapter version as the catalog records it.
public struct AdapterVersion: Sendable, Codable, Equatable {
    public let id: Int64
    public let name: String
    public let version: Int
    public let kind: VersionKind
    public let baseModel: String
    public let baseRevision: String
    public let rank: Int
    public let loraAlpha: Double
    public let useRslora: Bool
    public let useDora: Bool
    public let targetModules: [String]
    public let canonicalDigest: SHA256Digest
    public let configDigest: SHA256Digest
    public let configSize: Int64
    public let weightsDigest: SHA256Digest
    public let weightsSize: Int64
    public let tags: [String: String]
    public let createdBy: String
    public let createdAt: Date

    /// `name@version`.
    public var label: String { "\(name)@\(version)" }
}

/// One adapted module as the catalog records it.
public struct RecordedModule: Sendable, Codable, Equatable {
    public let path: String
    public let rank: Int
    public let alpha: Double
    public let scaling: Double
    public let inFeatures: Int
    public let outFeatures: Int
    public let dtype: String

    public init(path: String, rank: Int, alpha: Double, scaling: Double, inFeatures: Int, outFeatures: Int, dtype: String) {
        self.path = path
        self.rank = rank
        self.alpha = alpha
        self.scaling = scaling
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.dtype = dtype
    }
}

/// One recorded evaluation result.
public struct Evaluation: Hashable, Sendable, Codable {
    public let suite: String
    public let metric: String
    public let value: Double
    public let higherIsBetter: Bool

    public init(suite: String, metric: String, value: Double, higherIsBetter: Bool) {
        self.suite = suite
        self.metric = metric
        self.value = value
        self.higherIsBetter = higherIsBetter
    }
}

/// What `list` filters on; nil fields match everything.
public struct VersionFilter: Sendable, Equatable {
    public var name: String?
    public var baseModel: String?
    public var rank: Int?
    public var targetModule: String?
    public var tags: [String: String]
    public var kind: VersionKind?

    public init(name: String? = nil, baseModel: String? = nil, rank: Int? = nil, targetModule: String? = nil,
                tags: [String: String] = [:], kind: VersionKind? = nil) {
        self.name = name
        self.baseModel = baseModel
        self.rank = rank
        self.targetModule = targetModule
        self.tags = tags
        self.kind = kind
    }
}

/// A version about to be recorded: everything but the id, number and timestamps the catalog assigns.
public struct NewVersion: Sendable {
    public var name: String
    public var kind: VersionKind
    public var peftType: String
    public var baseModel: String
    public var baseRevision: String
    public var rank: Int
    public var loraAlpha: Double
    public var useRslora: Bool
    public var useDora: Bool
    public var targetModules: [String]
    /// `adapter_config.json` as registered (JSON text).
    public var config: String
    public var canonicalDigest: SHA256Digest
    public var configDigest: SHA256Digest
    public var configSize: Int64
    public var weightsDigest: SHA256Digest
    public var weightsSize: Int64
    public var tags: [String: String]
    public var modules: [RecordedModule]
    public var createdBy: String

    public init(name: String, kind: VersionKind, peftType: String, baseModel: String, baseRevision: String, rank: Int,
                loraAlpha: Double, useRslora: Bool, useDora: Bool, targetModules: [String], config: String,
                canonicalDigest: SHA256Digest, configDigest: SHA256Digest, configSize: Int64, weightsDigest: SHA256Digest,
                weightsSize: Int64, tags: [String: String], modules: [RecordedModule], createdBy: String) {
        self.name = name
        self.kind = kind
        self.peftType = peftType
        self.baseModel = baseModel
        self.baseRevision = baseRevision
        self.rank = rank
        self.loraAlpha = loraAlpha
        self.useRslora = useRslora
        self.useDora = useDora
        self.targetModules = targetModules
        self.config = config
        self.canonicalDigest = canonicalDigest
        self.configDigest = configDigest
        self.configSize = configSize
        self.weightsDigest = weightsDigest
        self.weightsSize = weightsSize
        self.tags = tags
        self.modules = modules
        self.createdBy = createdBy
    }
}
