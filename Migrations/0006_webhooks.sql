-- 0006: webhooks. A hook is a URL told about alias moves and new versions; the catalog is their outbox: the
-- transaction that moves an alias or records a version also inserts one delivery row per matching hook, so a move
-- made by any process (the local CLI too) is announced, and nothing is lost when a server dies. `quiver serve`
-- claims due deliveries (FOR UPDATE SKIP LOCKED, with a lease), POSTs them, and records every attempt.
--
-- The secret is an HMAC key the server needs in clear to sign with: it is stored as given (a reader of this table can
-- sign as the registry; the database's own access control protects it, as it protects the catalog). It is shown once
-- when the hook is created and never listed, logged or put in the audit trail.
CREATE TABLE webhooks (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL CHECK (length(url) BETWEEN 8 AND 2048 AND url ~* '^https?://'),
    events          text[] NOT NULL CHECK (cardinality(events) >= 1 AND events <@ ARRAY['alias.moved', 'version.created']),
    -- A glob over adapter names ('*' any run of characters); NULL means every adapter.
    adapter_pattern text CHECK (adapter_pattern IS NULL OR length(adapter_pattern) BETWEEN 1 AND 128),
    secret          text NOT NULL CHECK (length(secret) BETWEEN 16 AND 256),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Removed hooks stay (their deliveries' log names them); nothing new is queued for them.
    removed_at      timestamptz
);

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    hook_id         bigint NOT NULL REFERENCES webhooks (id),
    -- Sent as X-Quiver-Delivery; the same on every attempt, so a receiver can drop repeats.
    delivery_uuid   uuid NOT NULL UNIQUE,
    event           text NOT NULL CHECK (event IN ('alias.moved', 'version.created')),
    -- What the event is about, for listings: NAME@ALIAS or NAME@VERSION.
    subject         text NOT NULL,
    -- The exact body sent (and signed): text, not jsonb, so its bytes never change.
    payload         text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_expires_at timestamptz,
    last_http_status integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'delivering');
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook_id, id);

-- One row per attempt: when, how long, what came back.
CREATE TABLE webhook_attempts (
    delivery_id     bigint NOT NULL REFERENCES webhook_deliveries (id),
    attempt         integer NOT NULL CHECK (attempt >= 1),
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL CHECK (duration_ms >= 0),
    http_status     integer,
    error           text,
    PRIMARY KEY (delivery_id, attempt)
);
