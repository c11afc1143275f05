import Foundation
import Postgres
import QuiverCore

extension Registry {
    /// The version a reference names, or `registry.not_found`.
    public func resolve(_ ref: AdapterRef) throws -> AdapterVersion {
        try pool.withConnection { try Self.resolve($0, ref) }
    }

    /// Parses and resolves a reference written on the command line.
    public func resolve(_ text: String) throws -> AdapterVersion {
        try resolve(AdapterRef.parse(text))
    }

    static func resolve(_ connection: PostgresConnection, _ ref: AdapterRef) throws -> AdapterVersion {
        let cols = AdapterVersion.columns, from = AdapterVersion.from
        let rows: PostgresRows
        switch ref {
        case .latest(let name):
            rows = try connection.query(
                "SELECT \(unsafeRaw: cols) FROM \(unsafeRaw: from) WHERE a.name = \(name) ORDER BY v.version DESC LIMIT 1")
        case .version(let name, let number):
            rows = try connection.query("SELECT \(unsafeRaw: cols) FROM \(unsafeRaw: from) WHERE a.name = \(name) AND v.version = \(number)")
        case .alias(let name, let alias):
            rows = try connection.query("""
                SELECT \(unsafeRaw: cols) FROM \(unsafeRaw: from) JOIN aliases al ON al.version_id = v.id AND al.adapter_id = a.id
                WHERE a.name = \(name) AND al.alias = \(alias)
                """)
        case .digest(let digest):
            // The canonical digest is unique and a weights file nearly so (the first version wins); a config file is
            // often shared by many versions, so a config digest must name exactly one.
            rows = try connection.query("""
                SELECT \(unsafeRaw: cols) FROM \(unsafeRaw: from)
                WHERE v.canonical_digest = \(digest.hex) OR v.weights_digest = \(digest.hex) OR v.config_digest = \(digest.hex)
                ORDER BY (v.canonical_digest = \(digest.hex)) DESC, (v.weights_digest = \(digest.hex)) DESC, v.id LIMIT 3
                """)
            if rows.count > 1 {
                let candidates = try rows.map(AdapterVersion.decode)
                if candidates[0].canonicalDigest != digest && candidates[0].weightsDigest != digest {
                    throw RegistryError(
                        .invalidInput, code: "registry.ambiguous_reference",
                        reason: "sha256:\(digest.hex) is the config file of several versions (\(candidates.map(\.label).joined(separator: ", "))\(rows.count > 2 ? ", …" : ""))",
                        hint: "use the weights file, its digest, or NAME@VERSION")
                }
            }
        }
        guard let row = rows.first else {
            throw RegistryError(
                .notFound, code: "registry.not_found", reason: "no adapter version matches \(ref)",
                hint: "run 'quiver list' to see the registered adapters")
        }
        return try AdapterVersion.decode(row)
    }

    /// The version with this canonical digest, if registered.
    public func version(canonicalDigest: SHA256Digest) throws -> AdapterVersion? {
        try pool.withConnection { try Self.version($0, canonicalDigest: canonicalDigest) }
    }

    static func version(_ connection: PostgresConnection, canonicalDigest: SHA256Digest) throws -> AdapterVersion? {
        try connection.query(
            "SELECT \(unsafeRaw: AdapterVersion.columns) FROM \(unsafeRaw: AdapterVersion.from) WHERE v.canonical_digest = \(canonicalDigest.hex)"
        ).first.map(AdapterVersion.decode)
    }

    static func version(_ connection: PostgresConnection, id: Int64) throws -> AdapterVersion? {
        try connection.query("SELECT \(unsafeRaw: AdapterVersion.columns) FROM \(unsafeRaw: AdapterVersion.from) WHERE v.id = \(id)")
            .first.map(AdapterVersion.decode)
    }

    /// Versions by id, in the order asked.
    static func versions(_ connection: PostgresConnection, ids: [Int64]) throws -> [AdapterVersion] {
        let list = ids.map { Int($0) }
        let found = try connection.query(
            "SELECT \(unsafeRaw: AdapterVersion.columns) FROM \(unsafeRaw: AdapterVersion.from) WHERE v.id = ANY(\(list))"
        ).map(AdapterVersion.decode)
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byID[$0] }
    }
}
