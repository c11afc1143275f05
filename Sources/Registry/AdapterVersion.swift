import Foundation
import Postgres
import QuiverCore

/// One registered adapter version as the catalog records it.
public struct AdapterVersion: Sendable, Codable, Equatable {
    public let id: Int64
    public let name: String
    public let version: Int
    /// `trained` (registered from a directory) or `merged` (the output of a merge).
    public let kind: String
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

    /// The columns `decode(row:)` reads, for `SELECT \(unsafeRaw: AdapterVersion.columns) FROM \(unsafeRaw: AdapterVersion.from)`.
    static let columns = """
        v.id, a.name, v.version, v.kind, b.name AS base_model, b.revision AS base_revision, v.r, v.lora_alpha, \
        v.use_rslora, v.use_dora, v.target_modules, v.canonical_digest, v.config_digest, v.config_size, \
        v.weights_digest, v.weights_size, v.tags, v.created_by, v.created_at
        """
    static let from = "adapter_versions v JOIN adapters a ON a.id = v.adapter_id JOIN base_models b ON b.id = v.base_model_id"

    static func decode(_ row: PostgresRow) throws -> AdapterVersion {
        func digest(_ column: String) throws -> SHA256Digest {
            let text = try row.decode(String.self, column: column)
            guard let value = SHA256Digest(hex: text) else {
                throw PostgresError(.decoding, message: "column \(column) holds '\(text)', not a sha256 digest")
            }
            return value
        }
        let tags = try row.decode(PostgresJSON.self, column: "tags").decode([String: String].self)
        return AdapterVersion(
            id: try row.decode(Int64.self, column: "id"), name: try row.decode(String.self, column: "name"),
            version: try row.decode(Int.self, column: "version"), kind: try row.decode(String.self, column: "kind"),
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
}

/// What `register` did.
public struct RegisterOutcome: Sendable, Codable, Equatable {
    public let version: AdapterVersion
    /// True when identical content was already registered and that version is returned.
    public let existed: Bool
}
