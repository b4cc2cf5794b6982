-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Automations (DOMAIN.md section 3) and their runs (R-AUT-5). Timestamps are RFC 3339 UTC strings.
CREATE TABLE automations (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    -- The validated definition as JSON, and the trigger's one-line summary for listings.
    definition    TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    owner_user_id TEXT NOT NULL REFERENCES users (id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE UNIQUE INDEX automations_name ON automations (account_id, name);

-- A run keeps the automation's name and definition as they were when it started, so deleting
-- or re-applying the automation never rewrites history.
CREATE TABLE automation_runs (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    automation_name  TEXT NOT NULL,
    definition       TEXT NOT NULL,
    owner_user_id    TEXT NOT NULL REFERENCES users (id),
    status           TEXT NOT NULL,
    params           TEXT NOT NULL,
    steps            TEXT NOT NULL,
    logs             TEXT NOT NULL,
    error            TEXT,
    -- Set by `plat automation cancel`; whoever executes the run stops its running step.
    cancel_requested INTEGER NOT NULL,
    -- A server worker that claimed a queued run holds it until then.
    lease_until      TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
);

CREATE INDEX automation_runs_account ON automation_runs (account_id, created_at);
-- Server workers take the oldest queued run first.
CREATE INDEX automation_runs_queue ON automation_runs (status, created_at);
