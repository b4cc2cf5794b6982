-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Published scan inventories (issue 6, R-SEC-1: a scan report belongs to one account). A re-scan
-- of the same source replaces the inventory of that name; the env link is kept by id so that a
-- destroyed environment's last inventory stays readable.
CREATE TABLE inventories (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name          TEXT NOT NULL,
    env_id        TEXT REFERENCES envs (id),
    source        TEXT NOT NULL,
    published_by  TEXT NOT NULL REFERENCES users (id),
    published_at  TEXT NOT NULL,
    resources     BIGINT NOT NULL,
    errors        BIGINT NOT NULL,
    warnings      BIGINT NOT NULL,
    report        TEXT NOT NULL,
    entities      TEXT NOT NULL
);

CREATE UNIQUE INDEX inventories_name ON inventories (account_id, name);
