-- 0004: a tamper-evident audit trail. Each event carries its position in one chain, the hash of the event before
-- it, and its own hash over (previous hash, position, time, actor, action, subject, details). Rewriting or deleting
-- an event (possible for a superuser or the table's owner, who can disable the append-only trigger) breaks every
-- hash after it; `quiver fsck` recomputes the chain and `quiver audit --head` prints its head for safekeeping.

CREATE FUNCTION audit_event_hash(prev text, seq bigint, at timestamptz, actor text, action text, subject text, details jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        prev || '|' || seq::text || '|' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|'
        || actor || '|' || action || '|' || subject || '|' || details::text, 'UTF8')), 'hex')
$$;

ALTER TABLE audit_events ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;

-- Chain the events recorded before this migration, in id order.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
DO $$
DECLARE
    event record;
    seq bigint := 0;
    last text := repeat('0', 64);
BEGIN
    FOR event IN SELECT id, at, actor, action, subject, details FROM audit_events ORDER BY id LOOP
        seq := seq + 1;
        UPDATE audit_events SET chain_seq = seq, prev_hash = last,
            hash = audit_event_hash(last, seq, event.at, event.actor, event.action, event.subject, event.details)
        WHERE id = event.id
        RETURNING hash INTO last;
    END LOOP;
END;
$$;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;

ALTER TABLE audit_events ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX audit_events_chain_idx ON audit_events (chain_seq);

-- Appends link themselves to the head under a transaction-scoped lock, so concurrent writers form one chain in the
-- order they commit their audit events.
CREATE FUNCTION audit_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('quiver.audit_chain'));
    SELECT chain_seq, hash INTO head FROM audit_events ORDER BY chain_seq DESC LIMIT 1;
    NEW.chain_seq := coalesce(head.chain_seq, 0) + 1;
    NEW.prev_hash := coalesce(head.hash, repeat('0', 64));
    NEW.hash := audit_event_hash(NEW.prev_hash, NEW.chain_seq, NEW.at, NEW.actor, NEW.action, NEW.subject, NEW.details);
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_link();
