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

    /// Reads a row whose first columns are ``columnList``'s, in its order (by position: the names are looked up once).
    static func decode(_ row: PostgresRow) throws -> AdapterVersion {
        func digest(_ index: Int) throws -> SHA256Digest {
            let text = try row.decode(String.self, at: index)
            guard let value = SHA256Digest(hex: text) else {
                throw PostgresError(.decoding, message: "column \(columnList.names[index]) holds '\(text.prefix(80))', not a sha256 digest")
            }
            return value
        }
        let c = Position.shared
        return AdapterVersion(
            id: try row.decode(Int64.self, at: c.id), name: try row.decode(String.self, at: c.name),
            version: try row.decode(Int.self, at: c.version), kind: try row.decode(VersionKind.self, at: c.kind),
            baseModel: try row.decode(String.self, at: c.baseModel), baseRevision: try row.decode(String.self, at: c.baseRevision),
            rank: try row.decode(Int.self, at: c.rank), loraAlpha: try row.decode(Double.self, at: c.loraAlpha),
            useRslora: try row.decode(Bool.self, at: c.useRslora), useDora: try row.decode(Bool.self, at: c.useDora),
            targetModules: try row.decode([String].self, at: c.targetModules),
            canonicalDigest: try digest(c.canonicalDigest), configDigest: try digest(c.configDigest),
            configSize: try row.decode(Int64.self, at: c.configSize), weightsDigest: try digest(c.weightsDigest),
            weightsSize: try row.decode(Int64.self, at: c.weightsSize),
            tags: try row.decode([String: String].self, at: c.tags),
            createdBy: try row.decode(String.self, at: c.createdBy), createdAt: try row.decode(Date.self, at: c.createdAt))
    }

    /// Where each of ``columnList``'s columns is.
    private struct Position {
        static let shared = Position()
        let id = at("id"), name = at("name"), version = at("version"), kind = at("kind"), baseModel = at("base_model")
        let baseRevision = at("base_revision"), rank = at("r"), loraAlpha = at("lora_alpha"), useRslora = at("use_rslora")
        let useDora = at("use_dora"), targetModules = at("target_modules"), canonicalDigest = at("canonical_digest")
        let configDigest = at("config_digest"), configSize = at("config_size"), weightsDigest = at("weights_digest")
        let weightsSize = at("weights_size"), tags = at("tags"), createdBy = at("created_by"), createdAt = at("created_at")

        private static func at(_ name: String) -> Int {
            guard let index = columnList.names.firstIndex(of: name) else { preconditionFailure("VersionStore.columnList has no column \(name)") }
            return index
        }
    }

    private func select(where condition: SQLQuery, suffix: SQLQuery = "") throws -> [AdapterVersion] {
        var query: SQLQuery = "SELECT \(unsafeRaw: Self.columns) FROM \(unsafeRaw: Self.from) WHERE "
        query.append(condition)
        query.append(suffix)
        return try connection.query(query).map(Self.decode)
    }

    /// The highest-numbered version of `name`.
    public func latest(name: String) throws -> AdapterVersion? {
        try matching(.latest(name: name)).first
    }

    /// Version `number` of `name`.
    public func version(name: String, number: Int) throws -> AdapterVersion? {
        try matching(.version(name: name, number: number)).first
    }

    /// The version `name@alias` points at.
    public func aliased(name: String, alias: String) throws -> AdapterVersion? {
        try matching(.alias(name: name, alias: alias)).first
    }

    /// Up to three versions having `digest` as canonical, weights or config digest: canonical matches first, then
    /// weights, then by id (a config file is often shared by many versions). One statement with the digest in three
    /// places, planned for each value: a plan made once for every value would have to assume that a config digest
    /// matches every version (many versions share one config) and could walk the whole table.
    public func matching(digest: SHA256Digest) throws -> [AdapterVersion] {
        try select(
            where: "v.canonical_digest = \(digest.hex) OR v.weights_digest = \(digest.hex) OR v.config_digest = \(digest.hex)",
            suffix: " ORDER BY (v.canonical_digest = \(digest.hex)) DESC, (v.weights_digest = \(digest.hex)) DESC, v.id LIMIT 3")
    }

    /// The versions `key` names, best first.
    public func matching(_ key: VersionKey) throws -> [AdapterVersion] {
        if case .digest(let digest) = key { return try matching(digest: digest) }
        var query: SQLQuery = "SELECT \(unsafeRaw: Self.columns) FROM \(unsafeRaw: Self.from) JOIN ("
        query.append(Self.candidates(key))
        query.append(") c ON c.id = v.id ORDER BY c.n")
        return try connection.query(query).map(Self.decode)
    }

    /// The ids of the versions `key` names, best first, as rows `(id, n)` numbered from 1: at most one for a name,
    /// a version, an alias or an id. A digest here is a canonical or weights digest only (canonical first, then
    /// weights by id; up to three): each an index probe whatever the value, so one plan serves every digest. A
    /// config digest is looked up by ``matching(digest:)``.
    static func candidates(_ key: VersionKey) -> SQLQuery {
        switch key {
        case .latest(let name):
            return """
                SELECT v.id, 1 AS n FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
                WHERE a.name = \(name) ORDER BY v.version DESC LIMIT 1
                """
        case .version(let name, let number):
            return """
                SELECT v.id, 1 AS n FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
                WHERE a.name = \(name) AND v.version = \(number)
                """
        case .alias(let name, let alias):
            return """
                SELECT al.version_id AS id, 1 AS n FROM aliases al JOIN adapters a ON a.id = al.adapter_id
                WHERE a.name = \(name) AND al.alias = \(alias)
                """
        case .id(let id):
            return "SELECT id, 1 AS n FROM adapter_versions WHERE id = \(id)"
        case .digest(let digest):
            return """
                SELECT id, row_number() OVER (ORDER BY min(rank), id) AS n FROM (
                    (SELECT id, 0 AS rank FROM adapter_versions WHERE canonical_digest = \(digest.hex) LIMIT 1)
                    UNION ALL (SELECT id, 1 FROM adapter_versions WHERE weights_digest = \(digest.hex) ORDER BY id LIMIT 3)
                ) m GROUP BY id ORDER BY n LIMIT 3
                """
        }
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
        // Every module in one statement (one round trip, one statement trigger), the columns sent as arrays.
        let modules = new.modules
        try connection.query("""
            INSERT INTO version_modules (version_id, path, rank, alpha, scaling, in_features, out_features, dtype)
            SELECT \(id), * FROM unnest(\(modules.map(\.path))::text[], \(modules.map(\.rank))::bigint[],
                \(modules.map(\.alpha))::float8[], \(modules.map(\.scaling))::float8[], \(modules.map(\.inFeatures))::bigint[],
                \(modules.map(\.outFeatures))::bigint[], \(modules.map(\.dtype))::text[])
            """)
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
