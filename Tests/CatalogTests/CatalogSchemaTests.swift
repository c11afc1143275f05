import Foundation
import Postgres
import QuiverTesting
import Testing
@testable import Catalog

@Suite("Catalog schema integration")
struct CatalogSchemaTests {
    private func withCatalog(_ body: (PostgresConnection) throws -> Void) throws {
        try withScratchCatalog { try $0.pool.withConnection(body) }
    }

    @Test func auditEventsRefuseUpdateDeleteAndTruncate() throws {
        try withCatalog { conn in
            try conn.query("""
                INSERT INTO audit_events (actor, action, subject, details)
                VALUES (\("alice"), \("register"), \("adapter:x@1"), \(PostgresJSON(text: #"{"k": 1}"#)))
                """)
            for statement: SQLQuery in [
                "UPDATE audit_events SET actor = 'mallory'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
            ] {
                let error = try #require(throws: PostgresError.self) { try conn.query(statement) }
                #expect(error.sqlState == "42501")
                #expect(error.message.contains("append-only"))
            }
            let actor = try conn.query("SELECT actor FROM audit_events").single().decode(String.self, at: 0)
            #expect(actor == "alice")
        }
    }

    @Test func canonicalDigestIsUniqueWithSQLState() throws {
        try withCatalog { conn in
            let digest = String(repeating: "a", count: 64)
            try conn.query("INSERT INTO blobs (sha256, size) VALUES (\(digest), \(10))")
            try conn.query("INSERT INTO base_models (name, revision) VALUES (\("tiny"), \("main"))")
            try conn.query("INSERT INTO adapters (name, created_by) VALUES (\("a"), \("t")), (\("b"), \("t"))")
            func insertVersion(adapter: String) throws {
                try conn.query("""
                    INSERT INTO adapter_versions (adapter_id, version, kind, base_model_id, r, lora_alpha, target_modules,
                        config, canonical_digest, config_digest, config_size, weights_digest, weights_size, tags, created_by)
                    SELECT a.id, 1, 'trained', b.id, 8, 16, \(["q_proj", "v_proj"]), \(PostgresJSON(text: "{}")),
                        \(digest), \(digest), 10, \(digest), 10, \(PostgresJSON(text: #"{"task": "chat"}"#)), 'tester'
                    FROM adapters a, base_models b WHERE a.name = \(adapter)
                    """)
            }
            try insertVersion(adapter: "a")
            let error = try #require(throws: PostgresError.self) { try insertVersion(adapter: "b") }
            #expect(error.sqlState == SQLState.uniqueViolation)
            #expect(error.constraint == "adapter_versions_canonical_digest_key")

            let tagged = try conn.query("SELECT count(*) FROM adapter_versions WHERE tags @> \(PostgresJSON(text: #"{"task": "chat"}"#))")
            #expect(try tagged.single().decode(Int.self, at: 0) == 1)
            let byModule = try conn.query("SELECT count(*) FROM adapter_versions WHERE target_modules @> \(["v_proj"])")
            #expect(try byModule.single().decode(Int.self, at: 0) == 1)
        }
    }

    @Test func expectedTablesAndIndexesExist() throws {
        try withCatalog { conn in
            let tables = Set(try conn.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").map { try $0.decode(String.self, at: 0) })
            let expected: Set<String> = [
                "base_models", "adapters", "adapter_versions", "version_modules", "blobs", "version_blobs", "merges",
                "merge_inputs", "lineage_edges", "aliases", "alias_events", "evaluations", "registry_policy",
                "merge_refusals", "merge_jobs", "audit_events", "schema_migrations", "lineage_parts",
            ]
            #expect(expected.isSubset(of: tables), "missing: \(expected.subtracting(tables))")
            let indexes = Set(try conn.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").map { try $0.decode(String.self, at: 0) })
            for index in [
                "adapter_versions_canonical_digest_key", "adapter_versions_config_digest_idx", "lineage_parts_pkey",
                "adapter_versions_weights_digest_idx", "adapter_versions_tags_idx", "adapter_versions_base_model_idx",
                "adapter_versions_target_modules_idx", "lineage_edges_parent_idx", "lineage_edges_pkey", "merge_jobs_queued_idx", "lineage_parts_ancestors_idx",
            ] {
                #expect(indexes.contains(index), "index \(index) missing")
            }
        }
    }
}
