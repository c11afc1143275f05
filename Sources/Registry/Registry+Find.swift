import Foundation
import LoRA
import Postgres
import QuiverCore

/// What `list` filters on; nil fields match everything.
public struct VersionFilter: Sendable, Equatable {
    public var name: String?
    public var baseModel: String?
    public var rank: Int?
    public var targetModule: String?
    public var tags: [String: String]
    public var kind: String?

    public init(name: String? = nil, baseModel: String? = nil, rank: Int? = nil, targetModule: String? = nil,
                tags: [String: String] = [:], kind: String? = nil) {
        self.name = name
        self.baseModel = baseModel
        self.rank = rank
        self.targetModule = targetModule
        self.tags = tags
        self.kind = kind
    }
}

extension Registry {
    /// Versions matching every given filter, by name then version.
    public func list(_ filter: VersionFilter = VersionFilter(), limit: Int = 1000) throws -> [AdapterVersion] {
        var query: SQLQuery = "SELECT \(unsafeRaw: AdapterVersion.columns) FROM \(unsafeRaw: AdapterVersion.from) WHERE true"
        if let name = filter.name { query.append(" AND a.name = \(name)") }
        if let base = filter.baseModel { query.append(" AND b.name = \(base)") }
        if let rank = filter.rank { query.append(" AND v.r = \(rank)") }
        if let module = filter.targetModule { query.append(" AND v.target_modules @> \([module])") }
        if !filter.tags.isEmpty { query.append(" AND v.tags @> \(try PostgresJSON(encoding: filter.tags))") }
        if let kind = filter.kind { query.append(" AND v.kind = \(kind)") }
        query.append(" ORDER BY a.name, v.version LIMIT \(limit)")
        return try pool.query(query).map(AdapterVersion.decode)
    }

    /// The modules recorded for a version, by path.
    public func modules(of version: AdapterVersion) throws -> [RecordedModule] {
        try pool.query("""
            SELECT path, rank, alpha, scaling, in_features, out_features, dtype FROM version_modules
            WHERE version_id = \(version.id) ORDER BY path
            """).map {
            RecordedModule(
                path: try $0.decode(String.self, column: "path"), rank: try $0.decode(Int.self, column: "rank"),
                alpha: try $0.decode(Double.self, column: "alpha"), scaling: try $0.decode(Double.self, column: "scaling"),
                inFeatures: try $0.decode(Int.self, column: "in_features"),
                outFeatures: try $0.decode(Int.self, column: "out_features"), dtype: try $0.decode(String.self, column: "dtype"))
        }
    }

    /// Aliases currently pointing at versions of `name`.
    public func aliases(name: String) throws -> [(alias: String, version: Int)] {
        try pool.query("""
            SELECT al.alias, v.version FROM aliases al JOIN adapters a ON a.id = al.adapter_id
            JOIN adapter_versions v ON v.id = al.version_id WHERE a.name = \(name) ORDER BY al.alias
            """).map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) }
    }

    /// Writes the version as a PEFT directory at `output` (which must not exist), verifying every blob's digest as
    /// it downloads; the directory appears only when both files are complete and verified.
    public func pull(_ version: AdapterVersion, to output: URL) throws {
        if FileManager.default.fileExists(atPath: output.path) {
            throw RegistryError(.conflict, code: "registry.output_exists", reason: "\(output.path) already exists", hint: "choose a new --output directory")
        }
        let parent = output.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(output.lastPathComponent).tmp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            try download(version, into: temporary)
            try FileManager.default.moveItem(at: temporary, to: output)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Downloads both files of a version into an existing directory (verified).
    func download(_ version: AdapterVersion, into directory: URL) throws {
        try blobs.get(digest: version.configDigest, to: directory.appendingPathComponent(LoRAAdapter.configFileName))
        try blobs.get(digest: version.weightsDigest, to: directory.appendingPathComponent(LoRAAdapter.weightsFileName))
    }
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
}
