import Foundation
import Postgres
import QuiverCore

/// Recorded merges (method, parameters, seed, software version, inputs with weights), their lineage edges, and
/// refused merge requests.
public struct MergeLog: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The merge recorded for this request identity, if it produced a version: (merge id, output version id).
    public func recorded(requestDigest: SHA256Digest) throws -> (mergeID: Int64, outputVersionID: Int64)? {
        try connection.query("""
            SELECT id, output_version_id FROM merges WHERE request_digest = \(requestDigest.hex) AND output_version_id IS NOT NULL
            ORDER BY id LIMIT 1
            """).first.map { (try $0.decode(Int64.self, at: 0), try $0.decode(Int64.self, at: 1)) }
    }

    /// Records a succeeded merge with its inputs and one lineage edge per distinct parent; returns the merge id.
    public func record(_ merge: NewMerge) throws -> Int64 {
        let mergeID = try connection.query("""
            INSERT INTO merges (method, params, seed, software_version, input_digests, output_version_id, requested_by, status, request_digest)
            VALUES (\(merge.method), \(PostgresJSON(text: merge.params)), \(Int64(bitPattern: merge.seed)), \(merge.softwareVersion),
                \(merge.inputs.map(\.canonicalDigest.hex)), \(merge.outputVersionID), \(merge.requestedBy), 'succeeded',
                \(merge.requestDigest.hex))
            RETURNING id
            """).single().decode(Int64.self, at: 0)
        for (position, input) in merge.inputs.enumerated() {
            try connection.query("""
                INSERT INTO merge_inputs (merge_id, position, input_version_id, weight)
                VALUES (\(mergeID), \(position), \(input.versionID), \(input.weight))
                """)
        }
        for edge in merge.lineageEdges {
            try connection.query("""
                INSERT INTO lineage_edges (parent_version_id, child_version_id, weight, merge_id)
                VALUES (\(edge.parentID), \(merge.outputVersionID), \(edge.weight), \(mergeID))
                """)
        }
        return mergeID
    }

    /// Records a refused merge request: the inputs asked for, the method and parameters, and why.
    public func recordRefusal(inputs: [(label: String, canonicalDigest: SHA256Digest)], method: String, params: String,
                              code: String, message: String, by actor: String) throws {
        let requested = try PostgresJSON(encoding: inputs.map { ["ref": $0.label, "canonical_digest": $0.canonicalDigest.hex] })
        try connection.query("""
            INSERT INTO merge_refusals (requested_inputs, method, params, reason_code, message, requested_by)
            VALUES (\(requested), \(method), \(PostgresJSON(text: params)), \(code), \(message), \(actor))
            """)
    }

    /// The first merge recorded for an output version (what `verify` re-runs).
    public func first(producing outputVersionID: Int64) throws -> RecordedMerge? {
        guard let row = try connection.query(
            "SELECT id, params::text FROM merges WHERE output_version_id = \(outputVersionID) ORDER BY id LIMIT 1").first
        else { return nil }
        let id = try row.decode(Int64.self, at: 0)
        let inputs = try connection.query("SELECT input_version_id FROM merge_inputs WHERE merge_id = \(id) ORDER BY position")
            .map { try $0.decode(Int64.self, at: 0) }
        return RecordedMerge(id: id, params: try row.decode(String.self, at: 1), inputVersionIDs: inputs)
    }

    /// Every merge whose output is one of these versions, oldest first, with inputs and weights in merge order.
    public func records(producing outputVersionIDs: [Int64]) throws -> [MergeRecord] {
        try connection.query("""
            SELECT \(unsafeRaw: Self.recordColumns.selectList) FROM \(unsafeRaw: Self.recordFrom)
            WHERE m.output_version_id = ANY(\(outputVersionIDs.map { Int($0) })) ORDER BY m.id
            """).map(Self.record)
    }

    /// What ``record(_:)`` reads, over `merges m` joined to its output version `v` and that version's adapter `a`.
    static let recordColumns = ColumnList([
        ("m.id", "id"), ("a.name || '@' || v.version", "output"), ("m.method", "method"), ("m.params::text", "params"),
        ("m.seed", "seed"), ("m.software_version", "software_version"), ("m.input_digests", "input_digests"),
        ("m.requested_by", "requested_by"), ("m.created_at", "created_at"),
        ("""
         array(SELECT ia.name || '@' || iv.version FROM merge_inputs mi JOIN adapter_versions iv ON iv.id = mi.input_version_id
               JOIN adapters ia ON ia.id = iv.adapter_id WHERE mi.merge_id = m.id ORDER BY mi.position)
         """, "inputs"),
        ("array(SELECT mi.weight FROM merge_inputs mi WHERE mi.merge_id = m.id ORDER BY mi.position)", "weights"),
    ])
    static let recordFrom = "merges m JOIN adapter_versions v ON v.id = m.output_version_id JOIN adapters a ON a.id = v.adapter_id"

    /// The merge columns an audit reads: ``recordColumns`` without the labels, which the audit already has (the
    /// output and every input of a merge in a lineage are versions of that lineage), so no join per merge.
    static let auditColumns = ColumnList([
        ("m.id", "id"), ("m.output_version_id", "output_version_id"), ("m.method", "method"), ("m.params::text", "params"),
        ("m.seed", "seed"), ("m.software_version", "software_version"), ("m.input_digests", "input_digests"),
        ("m.requested_by", "requested_by"), ("m.created_at", "created_at"),
    ])
    /// Every input of the merges an audit reads, in merge then input order: (merge id, input version id, weight).
    static let auditInputColumns = ColumnList([("mi.merge_id", "merge_id"), ("mi.input_version_id", "input_version_id"), ("mi.weight", "weight")])

    /// A merge read through ``auditColumns``, its labels from `labels` (version id → `name@version`); nil when a
    /// version is missing there.
    static func record(_ row: PostgresRow, inputs: [(versionID: Int64, weight: Double)], labels: [Int64: String]) throws -> MergeRecord? {
        let c = AuditPosition.shared
        guard let output = labels[try row.decode(Int64.self, at: c.output)] else { return nil }
        var inputLabels: [String] = []
        for input in inputs {
            guard let label = labels[input.versionID] else { return nil }
            inputLabels.append(label)
        }
        return MergeRecord(
            id: try row.decode(Int64.self, at: c.id), output: output,
            method: try row.decode(String.self, at: c.method), params: try row.decode(String.self, at: c.params),
            seed: try row.decode(Int64?.self, at: c.seed), softwareVersion: try row.decode(String.self, at: c.softwareVersion),
            inputs: inputLabels, inputDigests: try row.decode([String].self, at: c.inputDigests),
            weights: inputs.map(\.weight), requestedBy: try row.decode(String.self, at: c.requestedBy),
            at: try row.decode(Date.self, at: c.createdAt))
    }

    /// Where each of ``auditColumns``' columns is (looked up once).
    private struct AuditPosition {
        static let shared = AuditPosition()
        let id = at("id"), output = at("output_version_id"), method = at("method"), params = at("params"), seed = at("seed")
        let softwareVersion = at("software_version"), inputDigests = at("input_digests"), requestedBy = at("requested_by")
        let createdAt = at("created_at")

        private static func at(_ name: String) -> Int {
            guard let index = auditColumns.names.firstIndex(of: name) else { preconditionFailure("MergeLog.auditColumns has no column \(name)") }
            return index
        }
    }

    static func record(_ row: PostgresRow) throws -> MergeRecord {
        MergeRecord(
            id: try row.decode(Int64.self, column: "id"), output: try row.decode(String.self, column: "output"),
            method: try row.decode(String.self, column: "method"), params: try row.decode(String.self, column: "params"),
            seed: try row.decode(Int64?.self, column: "seed"), softwareVersion: try row.decode(String.self, column: "software_version"),
            inputs: try row.decode([String].self, column: "inputs"), inputDigests: try row.decode([String].self, column: "input_digests"),
            weights: try row.decode([Double].self, column: "weights"), requestedBy: try row.decode(String.self, column: "requested_by"),
            at: try row.decode(Date.self, column: "created_at"))
    }
}
