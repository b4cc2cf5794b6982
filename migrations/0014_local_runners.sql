-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- A run executed by `plat automation run` on someone's machine holds a lease too (issue 15):
-- where it runs, so that a lapsed lease fails it (exec steps are local: never retried
-- elsewhere), and `plat automation cancel` on that machine can stop the step it left behind.
ALTER TABLE automation_runs ADD COLUMN runner_host TEXT;
ALTER TABLE automation_runs ADD COLUMN runner_pid INTEGER;
-- The process group of the exec step running now, on runner_host.
ALTER TABLE automation_runs ADD COLUMN step_process_group INTEGER;
