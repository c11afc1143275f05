-- 0003: API tokens for `quiver serve`. A token is shown once when created; only its sha256 is stored, so a copy
-- of the database gives no one a usable token. Revoked and expired tokens stay as rows (the audit trail names them).
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    scope        text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    -- A glob over adapter names ('*' any run of characters); NULL means every name.
    name_pattern text CHECK (name_pattern IS NULL OR length(name_pattern) BETWEEN 1 AND 128),
    token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
