-- 0009: `lineage --down` from the stored lineage parts, without a walk. A version's part lists every one of its
-- ancestors (0008), so the descendants of a version are exactly the versions whose part's `ancestors` holds it:
-- `ancestors @> ARRAY[id]`, one probe of this index, whose cost grows with the descendants found, not with the
-- catalog. The parts are written in the same transaction as their version (0008's deferred trigger), so they are
-- complete in every snapshot; reads still check that each descendant is reached from the start along the edges the
-- parts hold, and take the recursive walk otherwise (a catalog edited by hand, which `quiver fsck` reports).
CREATE INDEX lineage_parts_ancestors_idx ON lineage_parts USING gin (ancestors);
