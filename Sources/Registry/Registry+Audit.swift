import Foundation
import QuiverCore

extension Registry {
    /// Audits a reference, a bare sha256 (of the weights file, the config file, or the canonical digest), or a
    /// file on disk (hashed first).
    public func audit(_ query: String) throws -> AuditReport {
        let target = try Self.auditTarget(query)
        return try audit(target.ref, label: target.label)
    }

    /// What an audit query names, and how the report labels it: a regular file on disk is hashed here (the
    /// client's side, in remote mode) and audited by its digest, labelled `FILE (sha256 HEX)`; anything else is a
    /// reference or a digest, labelled as written.
    public static func auditTarget(_ query: String) throws -> (ref: AdapterRef, label: String) {
        var isDirectory: ObjCBool = false
        if SHA256Digest(hex: query) == nil, FileManager.default.fileExists(atPath: query, isDirectory: &isDirectory), !isDirectory.boolValue {
            let digest = try SHA256Digest.ofFile(at: URL(fileURLWithPath: query))
            return (.digest(digest), "\(query) (sha256 \(digest.hex))")
        }
        return (try AdapterRef.parse(query), query)
    }

    /// Audits a parsed reference (never a file: what a server calls with a client's text). `label` is what the
    /// report says it was asked about.
    public func audit(_ ref: AdapterRef, label: String) throws -> AuditReport {
        try catalog.read { session in
            // One statement, prepared once per connection: the reference resolved, and everything along its lineage.
            let (candidates, found) = try session.lineage.audit(ref.key)
            let subject = try Self.pick(candidates, for: ref)
            guard let records = found else { throw RegistryError.notFound("no adapter version matches \(ref)") }
            let graph = LineageGraph(start: subject.id, direction: .ancestors, nodes: records.nodes, edges: records.edges)
            let rootsByID = Dictionary(records.roots.map { ($0.version.id, $0) }, uniquingKeysWith: { a, _ in a })
            let roots = graph.roots.compactMap { rootsByID[$0.versionID] }
            return AuditReport(query: label, subject: subject, lineage: graph, roots: roots, merges: records.merges, aliasHistory: records.aliasHistory)
        }
    }

    /// The head of the audit trail's hash chain (see migration 0004), nil while the trail is empty.
    public func auditHead() throws -> AuditChainHead? {
        try catalog.read { try $0.audit.head() }.map { AuditChainHead(position: $0.position, hash: $0.hash) }
    }
}

/// The last link of the audit trail's hash chain: every event before it is fixed by this hash.
public struct AuditChainHead: Sendable, Codable, Equatable {
    public let position: Int64
    public let hash: String
}
