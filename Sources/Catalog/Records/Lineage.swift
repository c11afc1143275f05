/// Which way a lineage walk goes from its start.
public enum LineageDirection: String, Sendable, Codable {
    /// Parents, their parents, … down to the trained roots.
    case ancestors
    /// Every version merged from the start, directly or not.
    case descendants
}

/// One adapter version in a lineage walk.
public struct LineageNode: Hashable, Sendable, Codable {
    public let versionID: Int64
    public let name: String
    public let version: Int
    public let kind: VersionKind
    /// Distance from the version the walk started at.
    public let depth: Int
    /// The version's LoRA rank (`r`).
    public let rank: Int
    /// The version's canonical digest (64 hex characters).
    public let canonicalDigest: String

    public init(versionID: Int64, name: String, version: Int, kind: VersionKind, depth: Int, rank: Int = 0, canonicalDigest: String = "") {
        self.versionID = versionID
        self.name = name
        self.version = version
        self.kind = kind
        self.depth = depth
        self.rank = rank
        self.canonicalDigest = canonicalDigest
    }

    public var label: String { "\(name)@\(version)" }
}

/// A weighted parent → child edge, produced by one merge.
public struct LineageEdge: Hashable, Sendable, Codable {
    public let parentID: Int64
    public let childID: Int64
    public let weight: Double
    public let mergeID: Int64
    public let method: String

    public init(parentID: Int64, childID: Int64, weight: Double, mergeID: Int64, method: String) {
        self.parentID = parentID
        self.childID = childID
        self.weight = weight
        self.mergeID = mergeID
        self.method = method
    }
}
