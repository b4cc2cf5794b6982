-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- With RabbitMQ configured, servers hand queued runs to workers through a queue: a run is
-- announced there once it is due, and `announced_at` says when. NULL means not announced yet; a
-- run queued again (its worker's lease lapsed) is announced again.
ALTER TABLE automation_runs ADD COLUMN announced_at TEXT;
CREATE INDEX automation_runs_unannounced ON automation_runs (created_at)
    WHERE status = 'queued' AND announced_at IS NULL;
