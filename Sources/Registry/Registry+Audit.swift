import Foundation
import Postgres
import QuiverCore

extension Registry {
    /// Audits a reference, a bare sha256 (of the weights file, the config file, or the canonical digest), or a
    /// file on disk (hashed first).
    public func audit(_ query: String) throws -> AuditReport {
        var ref: AdapterRef
        var label = query
        let fileURL = URL(fileURLWithPath: query)
        var isDirectory: ObjCBool = false
        if SHA256Digest(hex: query) == nil, FileManager.default.fileExists(atPath: fileURL.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            let digest = try SHA256Digest.ofFile(at: fileURL)
            ref = .digest(digest)
            label = "\(query) (sha256 \(digest.hex))"
        } else {
            ref = try AdapterRef.parse(query)
        }
        return try pool.withConnection { connection in
            let subject = try Self.resolve(connection, ref)
            let graph = try Self.lineage(connection, start: subject.id, direction: .ancestors)
            let ids = graph.nodes.map { Int($0.versionID) }
            let rootIDs = graph.roots.map(\.versionID)
            let rootVersions = try Self.versions(connection, ids: rootIDs)
            let configs = Dictionary(try connection.query(
                "SELECT id, config::text FROM adapter_versions WHERE id = ANY(\(rootIDs.map { Int($0) }))"
            ).map { (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1)) }, uniquingKeysWith: { a, _ in a })
            let roots = rootVersions.map { AuditReport.Root(version: $0, config: configs[$0.id] ?? "{}") }
            let merges = try connection.query("""
                SELECT m.id, a.name || '@' || v.version AS output, m.method, m.params::text, m.seed, m.software_version,
                    m.input_digests, m.requested_by, m.created_at,
                    array(SELECT ia.name || '@' || iv.version FROM merge_inputs mi JOIN adapter_versions iv ON iv.id = mi.input_version_id
                          JOIN adapters ia ON ia.id = iv.adapter_id WHERE mi.merge_id = m.id ORDER BY mi.position) AS inputs,
                    array(SELECT mi.weight FROM merge_inputs mi WHERE mi.merge_id = m.id ORDER BY mi.position) AS weights
                FROM merges m JOIN adapter_versions v ON v.id = m.output_version_id JOIN adapters a ON a.id = v.adapter_id
                WHERE m.output_version_id = ANY(\(ids)) ORDER BY m.id
                """).map {
                AuditReport.MergeRecord(
                    id: try $0.decode(Int64.self, column: "id"), output: try $0.decode(String.self, column: "output"),
                    method: try $0.decode(String.self, column: "method"), params: try $0.decode(String.self, column: "params"),
                    seed: try $0.decode(Int64?.self, column: "seed"), softwareVersion: try $0.decode(String.self, column: "software_version"),
                    inputs: try $0.decode([String].self, column: "inputs"), inputDigests: try $0.decode([String].self, column: "input_digests"),
                    weights: try $0.decode([Double].self, column: "weights"), requestedBy: try $0.decode(String.self, column: "requested_by"),
                    at: try $0.decode(Date.self, column: "created_at"))
            }
            let aliasEvents = try connection.query("""
                SELECT a.name, e.alias, pa.name || '@' || pv.version AS previous, va.name || '@' || v.version AS version, e.forced, e.set_by, e.at
                FROM alias_events e JOIN adapters a ON a.id = e.adapter_id
                JOIN adapter_versions v ON v.id = e.version_id JOIN adapters va ON va.id = v.adapter_id
                LEFT JOIN adapter_versions pv ON pv.id = e.previous_version_id LEFT JOIN adapters pa ON pa.id = pv.adapter_id
                WHERE e.version_id = ANY(\(ids)) OR e.previous_version_id = ANY(\(ids)) OR e.adapter_id = (SELECT adapter_id FROM adapter_versions WHERE id = \(subject.id))
                ORDER BY e.at, e.id
                """).map {
                AuditReport.AliasEvent(
                    adapter: try $0.decode(String.self, at: 0), alias: try $0.decode(String.self, at: 1),
                    previous: try $0.decode(String?.self, at: 2), version: try $0.decode(String.self, at: 3),
                    forced: try $0.decode(Bool.self, at: 4), setBy: try $0.decode(String.self, at: 5), at: try $0.decode(Date.self, at: 6))
            }
            return AuditReport(query: label, subject: subject, lineage: graph, roots: roots, merges: merges, aliasHistory: aliasEvents)
        }
    }
}
