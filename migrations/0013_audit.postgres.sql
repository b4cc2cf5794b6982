-- PostgreSQL only (SQLite runs 0013_audit.sqlite.sql).
-- R-GOV-3: the audit trail. One row per write and per refusal, appended in the write's own
-- transaction. No foreign keys: a record outlives the account, user or env it names.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_issuer TEXT,
    delegated_by TEXT,
    account_id TEXT NOT NULL,
    account_path TEXT NOT NULL,
    account_slug TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    request_id TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);

-- The retention prune is the one way a record leaves: inside its transaction it names a cutoff
-- here, deletes what is older, and removes the cutoff again.
CREATE TABLE audit_prune_cutoff (cutoff TEXT NOT NULL);

-- The application's role cannot change past rows: every UPDATE, TRUNCATE, and DELETE of a row
-- not older than a prune's cutoff is refused by the database itself.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM audit_prune_cutoff WHERE OLD.at < cutoff) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
