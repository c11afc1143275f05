-- 0001: the whole registry catalog. Applied in one transaction by the Migrator.

CREATE TABLE base_models (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    revision    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, revision)
);

CREATE TABLE adapters (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blobs (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE adapter_versions (
    id               bigserial PRIMARY KEY,
    adapter_id       bigint NOT NULL REFERENCES adapters(id),
    version          int NOT NULL CHECK (version >= 1),
    kind             text NOT NULL CHECK (kind IN ('trained', 'merged')),
    peft_type        text NOT NULL DEFAULT 'LORA',
    base_model_id    bigint NOT NULL REFERENCES base_models(id),
    r                int NOT NULL CHECK (r >= 1),
    lora_alpha       double precision NOT NULL,
    use_rslora       boolean NOT NULL DEFAULT false,
    use_dora         boolean NOT NULL DEFAULT false,
    target_modules   text[] NOT NULL DEFAULT '{}',
    config           jsonb NOT NULL,
    canonical_digest text NOT NULL UNIQUE CHECK (canonical_digest ~ '^[0-9a-f]{64}$'),
    config_digest    text NOT NULL REFERENCES blobs(sha256),
    config_size      bigint NOT NULL CHECK (config_size >= 0),
    weights_digest   text NOT NULL REFERENCES blobs(sha256),
    weights_size     bigint NOT NULL CHECK (weights_size >= 0),
    tags             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (adapter_id, version)
);
CREATE INDEX adapter_versions_config_digest_idx ON adapter_versions (config_digest);
CREATE INDEX adapter_versions_weights_digest_idx ON adapter_versions (weights_digest);
CREATE INDEX adapter_versions_base_model_idx ON adapter_versions (base_model_id);
CREATE INDEX adapter_versions_tags_idx ON adapter_versions USING gin (tags jsonb_path_ops);
CREATE INDEX adapter_versions_target_modules_idx ON adapter_versions USING gin (target_modules);

CREATE TABLE version_modules (
    version_id    bigint NOT NULL REFERENCES adapter_versions(id) ON DELETE CASCADE,
    path          text NOT NULL,
    rank          int NOT NULL CHECK (rank >= 1),
    alpha         double precision NOT NULL,
    scaling       double precision NOT NULL,
    in_features   int NOT NULL CHECK (in_features >= 1),
    out_features  int NOT NULL CHECK (out_features >= 1),
    dtype         text NOT NULL,
    PRIMARY KEY (version_id, path)
);

CREATE TABLE version_blobs (
    version_id  bigint NOT NULL REFERENCES adapter_versions(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('config', 'weights')),
    blob_sha256 text NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (version_id, role)
);
CREATE INDEX version_blobs_blob_idx ON version_blobs (blob_sha256);

CREATE TABLE merges (
    id                bigserial PRIMARY KEY,
    method            text NOT NULL,
    params            jsonb NOT NULL DEFAULT '{}'::jsonb,
    seed              bigint,
    software_version  text NOT NULL,
    input_digests     text[] NOT NULL,
    output_version_id bigint REFERENCES adapter_versions(id),
    requested_by      text NOT NULL,
    status            text NOT NULL DEFAULT 'succeeded' CHECK (status IN ('running', 'succeeded', 'failed')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merges_output_version_idx ON merges (output_version_id);

CREATE TABLE merge_inputs (
    merge_id          bigint NOT NULL REFERENCES merges(id) ON DELETE CASCADE,
    position          int NOT NULL CHECK (position >= 0),
    input_version_id  bigint NOT NULL REFERENCES adapter_versions(id),
    weight            double precision NOT NULL,
    PRIMARY KEY (merge_id, position)
);
CREATE INDEX merge_inputs_input_version_idx ON merge_inputs (input_version_id);

CREATE TABLE lineage_edges (
    parent_version_id bigint NOT NULL REFERENCES adapter_versions(id),
    child_version_id  bigint NOT NULL REFERENCES adapter_versions(id),
    weight            double precision NOT NULL,
    merge_id          bigint NOT NULL REFERENCES merges(id),
    PRIMARY KEY (child_version_id, parent_version_id, merge_id),
    CHECK (parent_version_id <> child_version_id)
);
-- The primary key serves walks from child to parents; this one serves parent to children.
CREATE INDEX lineage_edges_parent_idx ON lineage_edges (parent_version_id, child_version_id);

CREATE TABLE aliases (
    adapter_id  bigint NOT NULL REFERENCES adapters(id),
    alias       text NOT NULL CHECK (alias <> ''),
    version_id  bigint NOT NULL REFERENCES adapter_versions(id),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (adapter_id, alias)
);

CREATE TABLE alias_events (
    id                  bigserial PRIMARY KEY,
    adapter_id          bigint NOT NULL REFERENCES adapters(id),
    alias               text NOT NULL,
    previous_version_id bigint REFERENCES adapter_versions(id),
    version_id          bigint NOT NULL REFERENCES adapter_versions(id),
    forced              boolean NOT NULL DEFAULT false,
    set_by              text NOT NULL,
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alias_events_alias_idx ON alias_events (adapter_id, alias, at);

CREATE TABLE evaluations (
    id               bigserial PRIMARY KEY,
    version_id       bigint NOT NULL REFERENCES adapter_versions(id),
    suite            text NOT NULL,
    metric           text NOT NULL,
    value            double precision NOT NULL,
    higher_is_better boolean NOT NULL,
    recorded_by      text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evaluations_version_idx ON evaluations (version_id, suite, metric);

CREATE TABLE registry_policy (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_by text NOT NULL DEFAULT 'migration',
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO registry_policy (key, value) VALUES
    ('allow_scaling_fold', 'false'::jsonb),
    ('max_merged_rank', '256'::jsonb),
    ('allowed_methods', '["linear", "cat", "svd", "ties", "ties_svd", "dare_linear", "dare_ties", "dare_linear_svd", "dare_ties_svd", "magnitude_prune", "magnitude_prune_svd"]'::jsonb),
    ('protected_aliases', '["production"]'::jsonb);

CREATE TABLE merge_refusals (
    id               bigserial PRIMARY KEY,
    requested_inputs jsonb NOT NULL,
    method           text NOT NULL,
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason_code      text NOT NULL,
    message          text NOT NULL,
    requested_by     text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merge_refusals_at_idx ON merge_refusals (at);

CREATE TABLE merge_jobs (
    id                bigserial PRIMARY KEY,
    request           jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts          int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts      int NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    lease_owner       text,
    lease_expires_at  timestamptz,
    last_error        text,
    result_version_id bigint REFERENCES adapter_versions(id),
    requested_by      text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
-- Workers claim with: WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < now())
-- ORDER BY id FOR UPDATE SKIP LOCKED; these partial indexes keep that scan to claimable rows only.
CREATE INDEX merge_jobs_queued_idx ON merge_jobs (id) WHERE status = 'queued';
CREATE INDEX merge_jobs_lease_idx ON merge_jobs (lease_expires_at) WHERE status = 'running';

CREATE TABLE audit_events (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    subject  text NOT NULL,
    details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_subject_idx ON audit_events (subject, at);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- The audit trail is append-only, enforced by the database itself, not by application code.
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new audit event instead of changing or removing old ones';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
