import Foundation
import Postgres
import QuiverCore

/// Adapters, their versions, recorded modules and configs.
public struct VersionStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The columns `decode(_:)` reads, selected `FROM \(unsafeRaw: from)`.
    static let columnList = ColumnList([
        ("v.id", "id"), ("a.name", "name"), ("v.version", "version"), ("v.kind", "kind"), ("b.name", "base_model"),
        ("b.revision", "base_revision"), ("v.r", "r"), ("v.lora_alpha", "lora_alpha"), ("v.use_rslora", "use_rslora"),
        ("v.use_dora", "use_dora"), ("v.target_modules", "target_modules"), ("v.canonical_digest", "canonical_digest"),
        ("v.config_digest", "config_digest"), ("v.config_size", "config_size"), ("v.weights_digest", "weights_digest"),
        ("v.weights_size", "weights_size"), ("v.tags", "tags"), ("v.created_by", "created_by"), ("v.created_at", "created_at"),
    ])
    static let columns = columnList.selectList
    static let from = "adapter_versions v JOIN adapters a ON a.id = v.adapter_id JOIN base_models b ON b.id = v.base_model_id"

    static func decode(_ row: PostgresRow) throws -> AdapterVersion {
        func digest(_ column: String) throws -> SHA256Digest {
            let text = try row.decode(String.self, column: column)
            guard let value = SHA256Digest(hex: text) else {
                throw PostgresError(.decoding, message: "column \(column) holds '\(text)', not a sha256 digest")
            }
            return value
        }
        let tags = try row.decode(PostgresJSON.self, column: "tags").stringDictionary()
        return AdapterVersion(
            id: try row.decode(Int64.self, column: "id"), name: try row.decode(String.self, column: "name"),
            version: try row.decode(Int.self, column: "version"), kind: try row.decode(VersionKind.self, column: "kind"),
            baseModel: try row.decode(String.self, column: "base_model"),
            baseRevision: try row.decode(String.self, column: "base_revision"),
            rank: try row.decode(Int.self, column: "r"), loraAlpha: try row.decode(Double.self, column: "lora_alpha"),
            useRslora: try row.decode(Bool.self, column: "use_rslora"), useDora: try row.decode(Bool.self, column: "use_dora"),
            targetModules: try row.decode([String].self, column: "target_modules"),
            canonicalDigest: try digest("canonical_digest"), configDigest: try digest("config_digest"),
            configSize: try row.decode(Int64.self, column: "config_size"), weightsDigest: try digest("weights_digest"),
            weightsSize: try row.decode(Int64.self, column: "weights_size"), tags: tags,
            createdBy: try row.decode(String.self, column: "created_by"), createdAt: try row.decode(Date.self, column: "created_at"))
    }

    private func select(where condition: SQLQuery, suffix: SQLQuery = "") throws -> [AdapterVersion] {
        var query: SQLQuery = "SELECT \(unsafeRaw: Self.columns) FROM \(unsafeRaw: Self.from) WHERE "
        query.append(condition)
        query.append(suffix)
        return try connection.query(query).map(Self.decode)
    }

    /// The highest-numbered version of `name`.
    public func latest(name: String) throws -> AdapterVersion? {
        try select(where: "a.name = \(name)", suffix: " ORDER BY v.version DESC LIMIT 1").first
    }

    /// Version `number` of `name`.
    public func version(name: String, number: Int) throws -> AdapterVersion? {
        try select(where: "a.name = \(name) AND v.version = \(number)").first
    }

    /// The version `name@alias` points at.
    public func aliased(name: String, alias: String) throws -> AdapterVersion? {
        try connection.query("""
            SELECT \(unsafeRaw: Self.columns) FROM \(unsafeRaw: Self.from) JOIN aliases al ON al.version_id = v.id AND al.adapter_id = a.id
            WHERE a.name = \(name) AND al.alias = \(alias)
            """).first.map(Self.decode)
    }

    /// Up to three versions having `digest` as canonical, weights or config digest: canonical matches first, then
    /// weights, then by id (a config file is often shared by many versions).
    public func matching(digest: SHA256Digest) throws -> [AdapterVersion] {
        try select(
            where: "v.canonical_digest = \(digest.hex) OR v.weights_digest = \(digest.hex) OR v.config_digest = \(digest.hex)",
            suffix: " ORDER BY (v.canonical_digest = \(digest.hex)) DESC, (v.weights_digest = \(digest.hex)) DESC, v.id LIMIT 3")
    }

    /// The version with this canonical digest, if registered.
    public func version(canonicalDigest: SHA256Digest) throws -> AdapterVersion? {
        try select(where: "v.canonical_digest = \(canonicalDigest.hex)").first
    }

    public func version(id: Int64) throws -> AdapterVersion? {
        try select(where: "v.id = \(id)").first
    }

    /// Versions by id, in the order asked (unknown ids are skipped).
    public func versions(ids: [Int64]) throws -> [AdapterVersion] {
        let found = try select(where: "v.id = ANY(\(ids.map { Int($0) }))")
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byID[$0] }
    }

    /// Versions matching every given filter, by name then version.
    public func list(_ filter: VersionFilter, limit: Int) throws -> [AdapterVersion] {
        var condition: SQLQuery = "true"
        if let name = filter.name { condition.append(" AND a.name = \(name)") }
        if let base = filter.baseModel { condition.append(" AND b.name = \(base)") }
        if let rank = filter.rank { condition.append(" AND v.r = \(rank)") }
        if let module = filter.targetModule { condition.append(" AND v.target_modules @> \([module])") }
        if !filter.tags.isEmpty { condition.append(" AND v.tags @> \(try PostgresJSON(encoding: filter.tags))") }
        if let kind = filter.kind { condition.append(" AND v.kind = \(kind)") }
        return try select(where: condition, suffix: " ORDER BY a.name, v.version LIMIT \(limit)")
    }

    /// The modules recorded for a version, by path.
    public func modules(versionID: Int64) throws -> [RecordedModule] {
        try connection.query("""
            SELECT path, rank, alpha, scaling, in_features, out_features, dtype FROM version_modules
            WHERE version_id = \(versionID) ORDER BY path
            """).map {
            RecordedModule(
                path: try $0.decode(String.self, column: "path"), rank: try $0.decode(Int.self, column: "rank"),
                alpha: try $0.decode(Double.self, column: "alpha"), scaling: try $0.decode(Double.self, column: "scaling"),
                inFeatures: try $0.decode(Int.self, column: "in_features"),
                outFeatures: try $0.decode(Int.self, column: "out_features"), dtype: try $0.decode(String.self, column: "dtype"))
        }
    }

    /// `adapter_config.json` as registered, by version id.
    public func configs(versionIDs: [Int64]) throws -> [Int64: String] {
        Dictionary(try connection.query(
            "SELECT id, config::text FROM adapter_versions WHERE id = ANY(\(versionIDs.map { Int($0) }))"
        ).map { (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1)) }, uniquingKeysWith: { a, _ in a })
    }

    /// The adapter's id, if the name was ever registered.
    public func adapterID(name: String) throws -> Int64? {
        try connection.query("SELECT id FROM adapters WHERE name = \(name)").first.map { try $0.decode(Int64.self, at: 0) }
    }

    /// Records `new` as the next version of its adapter (creating the adapter and base-model rows when needed),
    /// with its modules and its two blob references; returns it as stored. Call inside a transaction that holds
    /// ``CatalogLocks/lockAdapterName(_:)`` so version numbers are assigned one at a time.
    public func insert(_ new: NewVersion) throws -> AdapterVersion {
        try connection.query("""
            INSERT INTO base_models (name, revision) VALUES (\(new.baseModel), \(new.baseRevision)) ON CONFLICT (name, revision) DO NOTHING
            """)
        let baseID = try connection.query("SELECT id FROM base_models WHERE name = \(new.baseModel) AND revision = \(new.baseRevision)")
            .single().decode(Int64.self, at: 0)
        try connection.query("INSERT INTO adapters (name, created_by) VALUES (\(new.name), \(new.createdBy)) ON CONFLICT (name) DO NOTHING")
        let adapterID = try connection.query("SELECT id FROM adapters WHERE name = \(new.name)").single().decode(Int64.self, at: 0)
        let number = try connection.query("SELECT coalesce(max(version), 0) + 1 FROM adapter_versions WHERE adapter_id = \(adapterID)")
            .single().decode(Int.self, at: 0)
        let id = try connection.query("""
            INSERT INTO adapter_versions (adapter_id, version, kind, peft_type, base_model_id, r, lora_alpha, use_rslora,
                use_dora, target_modules, config, canonical_digest, config_digest, config_size, weights_digest,
                weights_size, tags, created_by)
            VALUES (\(adapterID), \(number), \(new.kind), \(new.peftType), \(baseID), \(new.rank),
                \(new.loraAlpha), \(new.useRslora), \(new.useDora), \(new.targetModules),
                \(PostgresJSON(text: new.config)), \(new.canonicalDigest.hex), \(new.configDigest.hex), \(new.configSize),
                \(new.weightsDigest.hex), \(new.weightsSize), \(try PostgresJSON(encoding: new.tags)), \(new.createdBy))
            RETURNING id
            """).single().decode(Int64.self, at: 0)
        for module in new.modules {
            try connection.query("""
                INSERT INTO version_modules (version_id, path, rank, alpha, scaling, in_features, out_features, dtype)
                VALUES (\(id), \(module.path), \(module.rank), \(module.alpha), \(module.scaling), \(module.inFeatures),
                    \(module.outFeatures), \(module.dtype))
                """)
        }
        try connection.query("""
            INSERT INTO version_blobs (version_id, role, blob_sha256)
            VALUES (\(id), \(BlobRole.config), \(new.configDigest.hex)), (\(id), \(BlobRole.weights), \(new.weightsDigest.hex))
            """)
        guard let created = try version(id: id) else {
            throw PostgresError(.decoding, message: "version \(id) vanished inside its own transaction")
        }
        return created
    }
}
