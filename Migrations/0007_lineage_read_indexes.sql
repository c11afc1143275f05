-- 0007: indexes for the one-statement lineage reads (audit, the version page). An audit collects every alias move
-- to or from a version in the lineage; without these, that part of it read all of alias_events, so its cost grew
-- with the catalog's history instead of with the lineage.
CREATE INDEX alias_events_version_idx ON alias_events (version_id);
CREATE INDEX alias_events_previous_version_idx ON alias_events (previous_version_id) WHERE previous_version_id IS NOT NULL;
