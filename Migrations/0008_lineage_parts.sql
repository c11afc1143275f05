-- 0008: each version's part of every lineage read, rendered once. A version's lineage never changes (versions,
-- merges, their inputs and lineage edges are only ever inserted), so what an audit reads about a version is fixed
-- the day it is registered: its node, its own record and config when it has no parent (a root), the edges into it
-- (with the method of the merge that made each), the merge that made it with its inputs, and the ids of all its ancestors (and its adapter's, which bounds the
-- alias moves an audit reads to the lineage's adapters). With that row, an audit is one index
-- probe per version in the lineage and no recursive walk (the same for `lineage`, the ancestors' graph); only the
-- alias history is read live.
--
-- The text columns hold rows in the nested-rows form the reads decode (`PostgresRows(jsonRows:)`): `node` and
-- `root` one JSON array each, `edges`, `merges` and `inputs` zero or more arrays joined by commas without the outer
-- brackets, so an audit concatenates them with `string_agg`. Values are the columns' text output, rendered under
-- fixed DateStyle, TimeZone and extra_float_digits (the settings every Quiver connection uses).
CREATE TABLE lineage_parts (
    version_id bigint PRIMARY KEY REFERENCES adapter_versions(id) ON DELETE CASCADE,
    adapter_id bigint NOT NULL,
    ancestors  bigint[] NOT NULL,
    node       text NOT NULL,
    root       text,
    edges      text,
    merges     text,
    inputs     text
);

-- The parts of `version_ids` as the catalog's rows make them now. The ancestors of a version are its parents and,
-- for each parent, the parent's stored ancestors; the walk goes on only through parents without a stored part (a
-- batch being rendered together), so rendering one new version reads its parents' rows only. `quiver fsck`
-- compares the stored parts with this.
CREATE FUNCTION quiver_lineage_parts(version_ids bigint[])
RETURNS TABLE (version_id bigint, adapter_id bigint, ancestors bigint[], node text, root text, edges text, merges text, inputs text)
LANGUAGE sql STABLE
SET DateStyle = 'ISO, MDY' SET TimeZone = 'UTC' SET extra_float_digits = 3
AS $$
WITH RECURSIVE batch AS MATERIALIZED (
    SELECT DISTINCT b.id FROM unnest(version_ids) b(id)
),
walk(version_id, ancestor_id) AS (
    SELECT e.child_version_id, e.parent_version_id FROM lineage_edges e JOIN batch b ON e.child_version_id = b.id
    UNION
    SELECT w.version_id, e.parent_version_id FROM walk w JOIN lineage_edges e ON e.child_version_id = w.ancestor_id
    WHERE NOT EXISTS (SELECT 1 FROM lineage_parts p WHERE p.version_id = w.ancestor_id)
),
closure AS (
    SELECT w.version_id, w.ancestor_id FROM walk w
    UNION
    SELECT w.version_id, a.id FROM walk w JOIN lineage_parts p ON p.version_id = w.ancestor_id CROSS JOIN unnest(p.ancestors) a(id)
),
ancestry AS MATERIALIZED (
    SELECT c.version_id, array_agg(c.ancestor_id ORDER BY c.ancestor_id) AS ids FROM closure c GROUP BY c.version_id
)
SELECT v.id, v.adapter_id,
    coalesce(an.ids, '{}'),
    json_build_array(v.id::text, a.name, v.version::text, v.kind, v.r::text, v.canonical_digest)::text,
    CASE WHEN NOT EXISTS (SELECT 1 FROM lineage_edges e WHERE e.child_version_id = v.id) THEN json_build_array(
        v.id::text, a.name, v.version::text, v.kind, bm.name, bm.revision, v.r::text, v.lora_alpha::text,
        v.use_rslora::text, v.use_dora::text, v.target_modules::text, v.canonical_digest, v.config_digest,
        v.config_size::text, v.weights_digest, v.weights_size::text, v.tags::text, v.created_by, v.created_at::text,
        v.config::text)::text END,
    (SELECT string_agg(json_build_array(e.parent_version_id::text, e.child_version_id::text, e.weight::text,
                                        e.merge_id::text, m.method)::text, ',' ORDER BY e.merge_id, e.parent_version_id)
       FROM lineage_edges e JOIN merges m ON m.id = e.merge_id WHERE e.child_version_id = v.id),
    (SELECT string_agg(json_build_array(m.id::text, m.output_version_id::text, m.method, m.params::text, m.seed::text,
                                        m.software_version, m.input_digests::text, m.requested_by,
                                        m.created_at::text)::text, ',' ORDER BY m.id)
       FROM merges m WHERE m.output_version_id = v.id),
    (SELECT string_agg(json_build_array(mi.merge_id::text, mi.input_version_id::text, mi.weight::text)::text, ','
                       ORDER BY mi.merge_id, mi.position)
       FROM merges m JOIN merge_inputs mi ON mi.merge_id = m.id WHERE m.output_version_id = v.id)
FROM batch b JOIN adapter_versions v ON v.id = b.id JOIN adapters a ON a.id = v.adapter_id
JOIN base_models bm ON bm.id = v.base_model_id
LEFT JOIN ancestry an ON an.version_id = v.id
$$;

-- Stores the parts of those of `version_ids` that have none yet; returns how many it stored.
CREATE FUNCTION quiver_render_lineage_parts(version_ids bigint[]) RETURNS bigint
LANGUAGE sql
AS $$
WITH stored AS (
    INSERT INTO lineage_parts (version_id, adapter_id, ancestors, node, root, edges, merges, inputs)
    SELECT * FROM quiver_lineage_parts(ARRAY(
        SELECT b.id FROM unnest(version_ids) b(id) WHERE NOT EXISTS (SELECT 1 FROM lineage_parts p WHERE p.version_id = b.id)))
    ON CONFLICT (version_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM stored
$$;

-- A new version's part is rendered when its transaction commits (a deferred trigger), after the merge that made it
-- has recorded its inputs and edges; writers need not remember to do it. Bulk writers render theirs first, in one
-- statement, and the trigger then finds them done.
CREATE FUNCTION quiver_lineage_part_on_commit() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM lineage_parts WHERE version_id = NEW.id) THEN
        PERFORM quiver_render_lineage_parts(ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER adapter_versions_lineage_part AFTER INSERT ON adapter_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quiver_lineage_part_on_commit();

-- Parents added to a version committed earlier (a merge whose result was already registered, linked to it: its
-- merge, inputs and edges are inserted later) change its part and the ancestors of every version below it: those
-- parts are dropped and rendered again.
CREATE FUNCTION quiver_lineage_parts_refresh(target bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    affected bigint[];
BEGIN
    WITH RECURSIVE below(id) AS (
        SELECT target
        UNION
        SELECT e.child_version_id FROM lineage_edges e JOIN below b ON e.parent_version_id = b.id
    )
    SELECT array_agg(id) INTO affected FROM below;
    DELETE FROM lineage_parts WHERE version_id = ANY(affected);
    PERFORM quiver_render_lineage_parts(affected);
END
$$;

-- At commit, for each new merge or lineage edge: nothing when its version was inserted by this same transaction
-- (that version's own trigger, queued first, renders its part with everything in place); otherwise the refresh.
CREATE FUNCTION quiver_lineage_part_on_new_lineage() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    target bigint;
BEGIN
    IF TG_TABLE_NAME = 'lineage_edges' THEN
        target := NEW.child_version_id;
    ELSE
        target := NEW.output_version_id;
    END IF;
    IF target IS NULL OR EXISTS (SELECT 1 FROM adapter_versions v WHERE v.id = target AND v.xmin = pg_current_xact_id()::xid) THEN
        RETURN NULL;
    END IF;
    PERFORM quiver_lineage_parts_refresh(target);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER merges_lineage_part AFTER INSERT ON merges
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quiver_lineage_part_on_new_lineage();
CREATE CONSTRAINT TRIGGER lineage_edges_lineage_part AFTER INSERT ON lineage_edges
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quiver_lineage_part_on_new_lineage();

SELECT quiver_render_lineage_parts(ARRAY(SELECT id FROM adapter_versions ORDER BY id));

