-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Approvals of environments of protected templates (R-GOV-2). One row per env that needed one,
-- written when `plat env up` asked and completed by the decision (or by the reaper on expiry).
CREATE TABLE env_approvals (
    env_id             TEXT PRIMARY KEY REFERENCES envs (id),
    -- `template` (its manifest says `approval: required`) or `policy` (an account or tenant's).
    required_by        TEXT NOT NULL,
    -- The lifetime asked for: it starts when the env is approved, not when it was asked for.
    ttl_seconds        BIGINT NOT NULL,
    requested_at       TEXT NOT NULL,
    -- After this an undecided request is closed as `expired` (default 24 h after asking).
    expires_at         TEXT NOT NULL,
    -- NULL while pending; then `approved`, `rejected` or `expired`.
    decision           TEXT,
    -- NULL for `expired` (nobody decided).
    decided_by_user_id TEXT REFERENCES users (id),
    decided_at         TEXT,
    comment            TEXT
);

-- Templates an account's (`account:<id>`) or tenant's (`tenant:<id>`) policy protects. A
-- requirement anywhere above an account applies to it: policies only tighten (R-ENV-2).
CREATE TABLE env_approval_policies (
    scope      TEXT NOT NULL,
    template   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, template)
);
