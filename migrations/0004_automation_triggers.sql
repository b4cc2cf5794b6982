-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Triggers run by `plat server` (issue 7): schedules, constant runs, webhooks, and runs that
-- outlive the worker that held them.

-- What started a run: manual, schedule, constant or webhook.
ALTER TABLE automation_runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'manual';
-- The automation a trigger ran (manual runs keep only the name, as before).
ALTER TABLE automation_runs ADD COLUMN automation_id TEXT;
-- How many times a worker has taken the run; a run whose worker died is queued again under
-- the same id until the server's limit, then failed.
ALTER TABLE automation_runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
-- A queued run is not taken before then: the back-off of a constant trigger after failures.
ALTER TABLE automation_runs ADD COLUMN not_before TEXT;

-- One active run per constant automation, whichever replica queues it.
CREATE UNIQUE INDEX automation_runs_constant ON automation_runs (automation_id)
    WHERE triggered_by = 'constant' AND status IN ('queued', 'running');
-- The reclaimer looks for running runs whose lease has lapsed.
CREATE INDEX automation_runs_lease ON automation_runs (status, lease_until);

-- Every schedule tick fired. The key makes a tick fire once across replicas: the replica whose
-- insert lands queues the run in the same transaction; the others insert nothing.
CREATE TABLE automation_ticks (
    automation_id TEXT NOT NULL,
    scheduled_at  TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (automation_id, scheduled_at)
);
