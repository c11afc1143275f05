-- 0005: the catalog announces its own changes. Every statement that changes what a reader sees (versions and
-- their modules, merges and lineage, aliases and their history, evaluations, policy) sends
-- `NOTIFY quiver_catalog, 'catalog'` when its transaction commits; a change to a token's validity (created,
-- revoked, expired, rescoped, deleted) sends 'tokens'. `quiver serve` listens and drops what it cached, so a change
-- made by any process (another server, the CLI on the database) reaches its readers within milliseconds; while it
-- cannot listen, it caches nothing. NOTIFY needs no privilege, and PostgreSQL folds identical notifications of one
-- transaction into one.
CREATE FUNCTION quiver_notify_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quiver_catalog', TG_ARGV[0]);
    RETURN NULL;
END;
$$;

CREATE TRIGGER adapter_versions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON adapter_versions
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER version_modules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON version_modules
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER version_blobs_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON version_blobs
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER merges_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merges
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER merge_inputs_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merge_inputs
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER lineage_edges_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lineage_edges
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aliases
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER alias_events_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alias_events
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER evaluations_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON evaluations
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER registry_policy_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON registry_policy
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER adapters_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON adapters
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');
CREATE TRIGGER base_models_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON base_models
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('catalog');

-- last_used_at is written about once a minute per token and changes no one's access: it announces nothing.
CREATE TRIGGER api_tokens_notify_insert_delete AFTER INSERT OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('tokens');
CREATE TRIGGER api_tokens_notify_update AFTER UPDATE OF name, scope, name_pattern, token_sha256, expires_at, revoked_at ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION quiver_notify_catalog('tokens');
