-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Terraform logs of an environment's runs, as reported by whoever ran them (the CLI, a reaper),
-- so that `plat env logs` works from any machine. Ids are ULIDs: ordering by id is run order.
CREATE TABLE env_logs (
    id           TEXT PRIMARY KEY,
    env_id       TEXT NOT NULL REFERENCES envs (id),
    phase        TEXT NOT NULL,
    log          TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

CREATE INDEX env_logs_env ON env_logs (env_id, id);
