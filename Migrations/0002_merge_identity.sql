-- 0002: a merge's identity, so that the same request (method, resolved parameters, input digests) asked twice
-- returns the recorded result instead of a second version; and the job that asked for it.
ALTER TABLE merges ADD COLUMN request_digest text CHECK (request_digest ~ '^[0-9a-f]{64}$');
CREATE UNIQUE INDEX merges_request_digest_idx ON merges (request_digest) WHERE request_digest IS NOT NULL;
ALTER TABLE merge_jobs ADD COLUMN merge_id bigint REFERENCES merges(id);
