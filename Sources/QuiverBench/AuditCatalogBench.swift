import ArgumentParser
import Catalog
import Foundation
import ObjectStore
import Postgres
import QuiverCore
import Registry

/// `quiver-bench audit-catalog`: fills a scratch catalog with synthetic versions and lineage (SQL
/// `generate_series`, no blobs), then times `Registry.audit` of a version at the end of a deep merge chain.
struct AuditCatalog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-catalog",
        abstract: "Time 'audit' on a deep lineage inside a large synthetic catalog (the database must be empty and disposable).")

    @Option(name: .customLong("database-url"), help: "An empty scratch database (filled with synthetic rows), or one this command seeded before.") var databaseURL: String
    @Option(help: "Versions in the catalog (a multiple of 100).") var versions = 100_000
    @Option(help: "Timed audits.") var runs = 200

    func run() throws {
        let catalog = try Catalog.open(url: databaseURL, maxConnections: 2)
        let blobs = try LocalBlobStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("audit-bench-blobs"))
        let registry = Registry(pool: catalog.pool, blobs: blobs, actor: "bench")
        let groups = max(1, versions / 100)
        let seedStart = Date()
        let existing = try catalog.pool.query("SELECT count(*) FROM adapter_versions").single().decode(Int.self, at: 0)
        if existing == 0 { try seed(catalog.pool, groups: groups) } else if existing != groups * 100 {
            throw ValidationError("the database holds \(existing) versions, not \(groups * 100): use an empty database")
        }
        print(existing > 0 ? "reusing the seeded catalog" : "seeded \(groups * 100) versions (\(groups * 50) merges, \(groups * 100) lineage edges) in \(String(format: "%.1f", Date().timeIntervalSince(seedStart))) s")

        // The last version of the middle group: 50 merges deep, 100 versions in its lineage.
        let target = Int64((groups / 2) * 100 + 100)
        let digest = try catalog.pool.query("SELECT weights_digest FROM adapter_versions WHERE id = \(target)").single().decode(String.self, at: 0)
        let check = try registry.audit(digest)
        print("audit of \(check.subject.label) by weights sha256: depth \(check.lineage.nodes.map(\.depth).max() ?? 0), \(check.lineage.nodes.count) versions, \(check.roots.count) roots, \(check.merges.count) merges")
        for _ in 0..<5 { _ = try registry.audit(digest) }
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try registry.audit(digest)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int((p * Double(times.count)).rounded(.up)) - 1)] }
        print(String(format: "audit over %d runs: p50 %.2f ms, p99 %.2f ms, min %.2f ms, max %.2f ms", runs, percentile(0.5), percentile(0.99), times[0], times[times.count - 1]))

        var explain: SQLQuery = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        explain.append(Registry.lineageQuery(start: target, direction: .ancestors))
        print("\nEXPLAIN ANALYZE of the recursive ancestor walk:")
        for row in try catalog.pool.query(explain) { print("  " + (try row.decode(String.self, at: 0))) }
    }

    /// Groups of 100 versions: positions 0–49 trained, 50–99 merged; merged p has parents p−1 (position 0 for
    /// p = 50) and the trained position (p − 49) mod 50, so position 99 is 50 merges deep.
    private func seed(_ pool: ConnectionPool, groups: Int) throws {
        let n = groups * 100
        try pool.withConnection { c in
            try c.executeScript(SQLQuery(unsafeSQL: """
                BEGIN;
                INSERT INTO base_models (id, name) VALUES (1, 'bench/base');
                INSERT INTO blobs (sha256, size) VALUES (encode(sha256('config'::bytea), 'hex'), 700);
                INSERT INTO blobs (sha256, size) SELECT encode(sha256(('w' || i)::bytea), 'hex'), 1000000 FROM generate_series(1, \(n)) i;
                INSERT INTO adapters (id, name, created_by) SELECT g, 'adapter-' || g, 'bench' FROM generate_series(1, \(groups)) g;
                INSERT INTO adapter_versions (id, adapter_id, version, kind, base_model_id, r, lora_alpha, target_modules, config,
                    canonical_digest, config_digest, config_size, weights_digest, weights_size, created_by)
                SELECT i, (i - 1) / 100 + 1, (i - 1) % 100 + 1, CASE WHEN (i - 1) % 100 < 50 THEN 'trained' ELSE 'merged' END, 1,
                    16, 32, '{q_proj,v_proj}', '{"r": 16, "lora_alpha": 32, "peft_type": "LORA"}'::jsonb,
                    encode(sha256(('c' || i)::bytea), 'hex'), encode(sha256('config'::bytea), 'hex'), 700,
                    encode(sha256(('w' || i)::bytea), 'hex'), 1000000, 'bench'
                FROM generate_series(1, \(n)) i;
                CREATE TEMP TABLE bench_parents AS
                SELECT i AS child, ((i - 1) / 100) * 100 AS base, (i - 1) % 100 AS p FROM generate_series(1, \(n)) i WHERE (i - 1) % 100 >= 50;
                INSERT INTO merges (id, method, params, seed, software_version, input_digests, output_version_id, requested_by, request_digest)
                SELECT child, 'ties', '{"method": "ties", "density": 0.5, "weights": [0.5, 0.5]}'::jsonb, 0, '0.1.0',
                    ARRAY[encode(sha256(('c' || child)::bytea), 'hex')], child, 'bench', encode(sha256(('r' || child)::bytea), 'hex')
                FROM bench_parents;
                INSERT INTO merge_inputs (merge_id, position, input_version_id, weight)
                SELECT child, 0, CASE WHEN p = 50 THEN base + 1 ELSE child - 1 END, 0.5 FROM bench_parents
                UNION ALL SELECT child, 1, base + ((p - 49) % 50) + 1, 0.5 FROM bench_parents;
                INSERT INTO lineage_edges (parent_version_id, child_version_id, weight, merge_id)
                SELECT input_version_id, merge_id, weight, merge_id FROM merge_inputs;
                SELECT setval('adapter_versions_id_seq', \(n)); SELECT setval('merges_id_seq', \(n));
                SELECT setval('adapters_id_seq', \(groups)); SELECT setval('base_models_id_seq', 1);
                COMMIT;
                ANALYZE;
                """))
        }
    }
}
