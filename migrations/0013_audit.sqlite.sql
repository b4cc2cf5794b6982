-- SQLite only (PostgreSQL runs 0013_audit.postgres.sql).
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
-- here, deletes what is older, and removes the cutoff again. Nothing else may update or delete.
CREATE TABLE audit_prune_cutoff (cutoff TEXT NOT NULL);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_cutoff WHERE OLD.at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only; only the retention prune removes old ones');
END;
