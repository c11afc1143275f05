import Foundation
import Postgres

/// Fills a scratch catalog with synthetic versions and lineage in set-based statements (`INSERT … SELECT` over
/// `generate_series`), for benchmarks at 100,000 and 1,000,000 versions; the stores' one-row-at-a-time write path
/// manages a few hundred versions a second.
///
/// The shape is the audit benchmark's: groups of 100 versions of one adapter (`adapter-<g>`); versions 1–50 are
/// trained, 51–100 merged. Merged version v (51…100) has parents v − 1 (version 1 for v = 51) and trained version
/// ((v − 50) mod 50) + 1, with weight 0.5 each, so version 100 of every adapter is 50 merges deep with 100 versions
/// in its lineage. Digests are sha256 of `c<g>-<p>` (canonical), `w<g>-<p>` (weights) and `config` (config), with
/// p = version − 1, as the benchmark's store-based seeding made them. Tags are `team` (`team-<g mod 20>`) and
/// `dataset` (`set-<p mod 7>`). Each adapter's `production` alias moved through versions 60, 70, 80, 90 and 100, and
/// its `staging` alias through 95 and 100 (seven alias moves per adapter). No blobs are stored; never run this on a
/// real catalog.
public struct SyntheticCatalog: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Adds groups `first…last` (adapters `adapter-<first>` … `adapter-<last>`, 100 versions each). Call inside a
    /// transaction; a few thousand groups per call keeps each statement's memory small.
    public func seed(groups first: Int, through last: Int) throws {
        // The group numbers are Ints, so they can be part of the SQL text.
        let configDigest = "encode(sha256('config'::bytea), 'hex')"
        try connection.query("INSERT INTO base_models (name, revision) VALUES ('bench/base', '') ON CONFLICT (name, revision) DO NOTHING")
        try connection.query(SQLQuery(unsafeSQL: "INSERT INTO blobs (sha256, size) VALUES (\(configDigest), 700) ON CONFLICT (sha256) DO NOTHING"))
        try connection.query("""
            INSERT INTO adapters (name, created_by) SELECT 'adapter-' || g, 'bench' FROM generate_series(\(first)::int, \(last)::int) g
            """)
        try connection.query("""
            INSERT INTO blobs (sha256, size)
            SELECT encode(sha256(convert_to('w' || g || '-' || p, 'UTF8')), 'hex'), 1000000
            FROM generate_series(\(first)::int, \(last)::int) g, generate_series(0, 99) p
            ON CONFLICT (sha256) DO NOTHING
            """)
        try connection.query(SQLQuery(unsafeSQL: """
            INSERT INTO adapter_versions (adapter_id, version, kind, peft_type, base_model_id, r, lora_alpha, use_rslora,
                use_dora, target_modules, config, canonical_digest, config_digest, config_size, weights_digest,
                weights_size, tags, created_by)
            SELECT a.id, p + 1, CASE WHEN p >= 50 THEN 'merged' ELSE 'trained' END, 'LORA',
                (SELECT id FROM base_models WHERE name = 'bench/base' AND revision = ''), 16, 32, false, false,
                '{q_proj,v_proj}', '{"r": 16, "lora_alpha": 32, "peft_type": "LORA"}'::jsonb,
                encode(sha256(convert_to('c' || g || '-' || p, 'UTF8')), 'hex'), \(configDigest), 700,
                encode(sha256(convert_to('w' || g || '-' || p, 'UTF8')), 'hex'), 1000000,
                jsonb_build_object('team', 'team-' || (g % 20), 'dataset', 'set-' || (p % 7)), 'bench'
            FROM generate_series(\(first), \(last)) g
            JOIN adapters a ON a.name = 'adapter-' || g
            CROSS JOIN generate_series(0, 99) p
            ORDER BY g, p
            """))
        try referenceBlobs(of: SQLQuery(unsafeSQL: "a.name IN (SELECT 'adapter-' || g FROM generate_series(\(first), \(last)) g)"))
        // One merge per merged version, its two inputs and two lineage edges.
        try connection.query(SQLQuery(unsafeSQL: """
            WITH merged AS (
                SELECT v.id AS output_id, v.adapter_id, v.version, substr(a.name, 9) AS g,
                       CASE WHEN v.version = 51 THEN 1 ELSE v.version - 1 END AS parent_a,
                       ((v.version - 50) % 50) + 1 AS parent_b
                FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
                WHERE v.version > 50 AND a.name IN (SELECT 'adapter-' || g FROM generate_series(\(first), \(last)) g)
            ), parents AS (
                SELECT m.*, pa.id AS parent_a_id, pa.canonical_digest AS parent_a_digest,
                       pb.id AS parent_b_id, pb.canonical_digest AS parent_b_digest
                FROM merged m
                JOIN adapter_versions pa ON pa.adapter_id = m.adapter_id AND pa.version = m.parent_a
                JOIN adapter_versions pb ON pb.adapter_id = m.adapter_id AND pb.version = m.parent_b
            ), inserted AS (
                INSERT INTO merges (method, params, seed, software_version, input_digests, output_version_id, requested_by,
                    status, request_digest)
                SELECT 'ties', '{"method": "ties", "density": 0.5, "weights": [0.5, 0.5]}'::jsonb, 0, '0.1.0',
                    ARRAY[parent_a_digest, parent_b_digest], output_id, 'bench', 'succeeded',
                    encode(sha256(convert_to('r' || g || '-' || (version - 1), 'UTF8')), 'hex')
                FROM parents ORDER BY output_id
                RETURNING id, output_version_id
            ), inputs AS (
                INSERT INTO merge_inputs (merge_id, position, input_version_id, weight)
                SELECT i.id, x.position, x.parent, 0.5
                FROM inserted i JOIN parents p ON p.output_id = i.output_version_id
                CROSS JOIN LATERAL (VALUES (0, p.parent_a_id), (1, p.parent_b_id)) x(position, parent)
            )
            INSERT INTO lineage_edges (parent_version_id, child_version_id, weight, merge_id)
            SELECT DISTINCT x.parent, i.output_version_id, 0.5, i.id
            FROM inserted i JOIN parents p ON p.output_id = i.output_version_id
            CROSS JOIN LATERAL (VALUES (p.parent_a_id), (p.parent_b_id)) x(parent)
            """))
        try connection.query(SQLQuery(unsafeSQL: """
            WITH moves AS (
                SELECT a.id AS adapter_id, m.alias, m.step, v.id AS version_id,
                       lag(v.id) OVER (PARTITION BY a.id, m.alias ORDER BY m.step) AS previous_id
                FROM generate_series(\(first), \(last)) g
                JOIN adapters a ON a.name = 'adapter-' || g
                CROSS JOIN (VALUES ('production', 1, 60), ('production', 2, 70), ('production', 3, 80), ('production', 4, 90),
                                   ('production', 5, 100), ('staging', 1, 95), ('staging', 2, 100)) m(alias, step, version)
                JOIN adapter_versions v ON v.adapter_id = a.id AND v.version = m.version
            ), history AS (
                INSERT INTO alias_events (adapter_id, alias, previous_version_id, version_id, set_by)
                SELECT adapter_id, alias, previous_id, version_id, 'bench' FROM moves ORDER BY adapter_id, alias, step
            )
            INSERT INTO aliases (adapter_id, alias, version_id, updated_by)
            SELECT adapter_id, alias, version_id, 'bench' FROM moves WHERE (alias, step) IN (('production', 5), ('staging', 2))
            """))
        try renderLineageParts(of: SQLQuery(unsafeSQL: "a.name IN (SELECT 'adapter-' || g FROM generate_series(\(first), \(last)) g)"))
    }

    /// Adds adapter `name` with one trained version and `descendants` merged ones in a binary tree: merged version
    /// k (2 … descendants + 1) is a one-input merge of version ⌊k / 2⌋, so every merged version descends from
    /// version 1, about log2(descendants) levels down (the `lineage --down` benchmark).
    public func seedFan(name: String, descendants: Int) throws {
        try connection.query("INSERT INTO base_models (name, revision) VALUES ('bench/base', '') ON CONFLICT (name, revision) DO NOTHING")
        try connection.query("INSERT INTO adapters (name, created_by) VALUES (\(name), 'bench')")
        try connection.query("""
            INSERT INTO blobs (sha256, size)
            SELECT encode(sha256(convert_to(\(name) || '-w' || k, 'UTF8')), 'hex'), 1000000 FROM generate_series(1, \(descendants + 1)) k
            UNION ALL SELECT encode(sha256('config'::bytea), 'hex'), 700
            ON CONFLICT (sha256) DO NOTHING
            """)
        try connection.query("""
            INSERT INTO adapter_versions (adapter_id, version, kind, peft_type, base_model_id, r, lora_alpha, use_rslora,
                use_dora, target_modules, config, canonical_digest, config_digest, config_size, weights_digest,
                weights_size, tags, created_by)
            SELECT a.id, k, CASE WHEN k > 1 THEN 'merged' ELSE 'trained' END, 'LORA',
                (SELECT id FROM base_models WHERE name = 'bench/base' AND revision = ''), 16, 32, false, false,
                '{q_proj,v_proj}', '{"r": 16, "lora_alpha": 32, "peft_type": "LORA"}'::jsonb,
                encode(sha256(convert_to(\(name) || '-c' || k, 'UTF8')), 'hex'), encode(sha256('config'::bytea), 'hex'), 700,
                encode(sha256(convert_to(\(name) || '-w' || k, 'UTF8')), 'hex'), 1000000, '{}'::jsonb, 'bench'
            FROM adapters a CROSS JOIN generate_series(1, \(descendants + 1)) k WHERE a.name = \(name) ORDER BY k
            """)
        try referenceBlobs(of: "a.name = \(name)")
        try connection.query("""
            WITH merged AS (
                SELECT v.id AS output_id, v.version, p.id AS parent_id, p.canonical_digest AS parent_digest
                FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id
                JOIN adapter_versions p ON p.adapter_id = v.adapter_id AND p.version = v.version / 2
                WHERE a.name = \(name) AND v.version > 1
            ), inserted AS (
                INSERT INTO merges (method, params, seed, software_version, input_digests, output_version_id, requested_by,
                    status, request_digest)
                SELECT 'linear', '{"method": "linear", "weights": [1.0]}'::jsonb, 0, '0.1.0', ARRAY[parent_digest], output_id,
                    'bench', 'succeeded', encode(sha256(convert_to(\(name) || '-r' || version, 'UTF8')), 'hex')
                FROM merged ORDER BY output_id
                RETURNING id, output_version_id
            ), inputs AS (
                INSERT INTO merge_inputs (merge_id, position, input_version_id, weight)
                SELECT i.id, 0, m.parent_id, 1.0 FROM inserted i JOIN merged m ON m.output_id = i.output_version_id
            )
            INSERT INTO lineage_edges (parent_version_id, child_version_id, weight, merge_id)
            SELECT m.parent_id, i.output_version_id, 1.0, i.id FROM inserted i JOIN merged m ON m.output_id = i.output_version_id
            """)
        try renderLineageParts(of: "a.name = \(name)")
    }

    /// Renders the lineage parts (migration 0008) of the versions of the adapters `a` that `condition` selects, in
    /// one statement, after refreshing the planner's statistics on the rows just added (without them it plans for
    /// the tables as they were, nearly empty, and nests loops over thousands of rows); the commit-time trigger then
    /// finds each version's part made instead of rendering them one by one.
    private func renderLineageParts(of condition: SQLQuery) throws {
        try connection.query("ANALYZE adapter_versions, adapters, lineage_edges, merges, merge_inputs, lineage_parts")
        var query: SQLQuery = """
            SELECT quiver_render_lineage_parts(ARRAY(
                SELECT v.id FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id WHERE
            """
        query.append(" ")
        query.append(condition)
        query.append("))")
        try connection.query(query)
    }

    /// Records each version's two blob references (config and weights) for the versions of the adapters `a` that
    /// `condition` selects.
    private func referenceBlobs(of condition: SQLQuery) throws {
        var query: SQLQuery = """
            INSERT INTO version_blobs (version_id, role, blob_sha256)
            SELECT v.id, r.role, CASE WHEN r.role = 'config' THEN v.config_digest ELSE v.weights_digest END
            FROM adapter_versions v JOIN adapters a ON a.id = v.adapter_id CROSS JOIN (VALUES ('config'), ('weights')) r(role)
            """
        query.append(" WHERE ")
        query.append(condition)
        try connection.query(query)
    }
}
