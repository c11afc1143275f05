import Foundation
import Postgres

/// Aliases (`NAME@ALIAS` → version) and their append-only history.
public struct AliasStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Aliases currently pointing at versions of `name`, by alias.
    public func current(name: String) throws -> [(alias: String, version: Int)] {
        try connection.query("""
            SELECT al.alias, v.version FROM aliases al JOIN adapters a ON a.id = al.adapter_id
            JOIN adapter_versions v ON v.id = al.version_id WHERE a.name = \(name) ORDER BY al.alias
            """).map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) }
    }

    /// Points the alias at `versionID` and appends the move to the history; returns the version id it pointed at
    /// before (nil for a new alias). Call inside a transaction: a transaction-scoped lock on (adapter, alias) is
    /// taken first, so concurrent moves of one alias run one after the other and each sees its predecessor — also
    /// when the alias does not exist yet, where `FOR UPDATE` would have no row to lock.
    public func move(adapterID: Int64, alias: String, to versionID: Int64, forced: Bool, by actor: String) throws -> Int64? {
        try connection.query("SELECT pg_advisory_xact_lock(hashtext(\("quiver.alias:\(adapterID):" + alias)))")
        let previous = try connection.query(
            "SELECT version_id FROM aliases WHERE adapter_id = \(adapterID) AND alias = \(alias) FOR UPDATE"
        ).first.map { try $0.decode(Int64.self, at: 0) }
        try connection.query("""
            INSERT INTO aliases (adapter_id, alias, version_id, updated_by) VALUES (\(adapterID), \(alias), \(versionID), \(actor))
            ON CONFLICT (adapter_id, alias) DO UPDATE SET version_id = excluded.version_id, updated_by = excluded.updated_by, updated_at = now()
            """)
        try connection.query("""
            INSERT INTO alias_events (adapter_id, alias, previous_version_id, version_id, forced, set_by)
            VALUES (\(adapterID), \(alias), \(previous), \(versionID), \(forced), \(actor))
            """)
        return previous
    }

    /// Every alias move touching these versions (as target or as the version moved away from), and every move of
    /// an alias of the adapter `subjectID` belongs to, oldest first.
    public func history(versionIDs: [Int64], subjectID: Int64) throws -> [AliasEvent] {
        let ids = versionIDs.map { Int($0) }
        return try connection.query("""
            SELECT \(unsafeRaw: Self.eventColumns.selectList) FROM \(unsafeRaw: Self.eventFrom)
            WHERE e.version_id = ANY(\(ids)) OR e.previous_version_id = ANY(\(ids)) OR e.adapter_id = (SELECT adapter_id FROM adapter_versions WHERE id = \(subjectID))
            ORDER BY e.at, e.id
            """).map(Self.event)
    }

    /// What ``event(_:)`` reads, by position, from ``eventFrom``.
    static let eventColumns = ColumnList([
        ("a.name", "adapter"), ("e.alias", "alias"), ("pa.name || '@' || pv.version", "previous"),
        ("va.name || '@' || v.version", "version"), ("e.forced", "forced"), ("e.set_by", "set_by"), ("e.at", "at"),
    ])
    static let eventFrom = eventFrom(events: "alias_events")

    /// ``eventFrom`` over `events`, a relation with `alias_events`' columns (such as a common table expression of
    /// the few moves a statement selected first).
    static func eventFrom(events: String) -> String {
        """
        \(events) e JOIN adapters a ON a.id = e.adapter_id
        JOIN adapter_versions v ON v.id = e.version_id JOIN adapters va ON va.id = v.adapter_id
        LEFT JOIN adapter_versions pv ON pv.id = e.previous_version_id LEFT JOIN adapters pa ON pa.id = pv.adapter_id
        """
    }

    static func event(_ row: PostgresRow) throws -> AliasEvent {
        AliasEvent(
            adapter: try row.decode(String.self, at: 0), alias: try row.decode(String.self, at: 1),
            previous: try row.decode(String?.self, at: 2), version: try row.decode(String.self, at: 3),
            forced: try row.decode(Bool.self, at: 4), setBy: try row.decode(String.self, at: 5), at: try row.decode(Date.self, at: 6))
    }
}
