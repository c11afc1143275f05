import QuiverCore

/// How a read names one version: the forms of a registry reference, resolved in the statement that reads it.
public enum VersionKey: Sendable, Hashable {
    /// The highest-numbered version of the adapter.
    case latest(name: String)
    case version(name: String, number: Int)
    /// The version an alias points at.
    case alias(name: String, alias: String)
    /// The version with this canonical, weights or config digest (a config file may be shared: up to three match).
    case digest(SHA256Digest)
    /// The version with this catalog id.
    case id(Int64)
}
