-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Environments (DOMAIN.md section 2). Timestamps are RFC 3339 UTC strings with whole seconds, so
-- text comparison is time comparison on both databases.
CREATE TABLE envs (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    name               TEXT NOT NULL,
    template           TEXT NOT NULL,
    params             TEXT NOT NULL,
    owner_user_id      TEXT NOT NULL REFERENCES users (id),
    status             TEXT NOT NULL,
    idempotency_key    TEXT,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    destroyed_at       TEXT,
    outputs            TEXT NOT NULL,
    resources          TEXT NOT NULL,
    error              TEXT,
    -- A failed `up` gives its quota back (R-ENV-3: a refused or failed request costs nothing).
    quota_counted      INTEGER NOT NULL,
    -- Only the holder of an unexpired lease destroys an expired env (several server replicas).
    reaper_lease_until TEXT,
    reaper_attempts    INTEGER NOT NULL
);

-- One live env per name and account; a destroyed env frees its name.
CREATE UNIQUE INDEX envs_live_name ON envs (account_id, name) WHERE destroyed_at IS NULL;
-- A retried `plat env up --idempotency-key K` finds the env of the first try.
CREATE UNIQUE INDEX envs_idempotency ON envs (owner_user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX envs_owner_created ON envs (owner_user_id, created_at);
CREATE INDEX envs_expiry ON envs (expires_at) WHERE destroyed_at IS NULL;

-- Terraform state of server-mode envs, served through Terraform's `http` backend.
CREATE TABLE env_states (
    env_id     TEXT PRIMARY KEY REFERENCES envs (id),
    state      TEXT,
    lock_info  TEXT,
    updated_at TEXT NOT NULL
);

-- Environment policies (R-ENV-2): per tenant (`tenant:<id>`) or account (`account:<id>`);
-- a NULL column inherits.
CREATE TABLE env_policies (
    scope            TEXT PRIMARY KEY,
    ttl_default_secs BIGINT,
    ttl_max_secs     BIGINT,
    envs_per_day     BIGINT,
    updated_at       TEXT NOT NULL
);
