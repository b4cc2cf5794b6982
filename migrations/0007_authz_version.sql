-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- A counter bumped by every write that can change authorization; servers cache resolved
-- callers and re-resolve when it moves (src/service/actor.rs).
INSERT INTO platform_meta (key, value) VALUES ('authz_version', '0');
