-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Spend per account (DOMAIN.md R-ACC-5, R-GOV-4). Amounts are integer millionths of the
-- platform's currency, so sums are exact on both databases. Times are Unix seconds here (not the
-- RFC 3339 text of `envs`): accrual is arithmetic on them, which text cannot do portably.

-- One row per env that declares a cost, written with the env and closed when it is destroyed:
-- an env accrues daily_cost_micros for every second from started_at to ended_at (or now).
CREATE TABLE env_spend (
    env_id            TEXT PRIMARY KEY REFERENCES envs (id),
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    template          TEXT NOT NULL,
    owner_email       TEXT NOT NULL,
    tenant            TEXT NOT NULL,
    daily_cost_micros BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT
);
-- A month's spend walks each account of a subtree and reads the envs it started before the
-- month's end from this index alone (it holds every column a report sums or groups by): over
-- 100k env-days, reading the table instead took twice as long.
CREATE INDEX env_spend_account
    ON env_spend (account_id, started_at, ended_at, daily_cost_micros, tenant, template, owner_email);

-- The labels an env's resources carry, for `plat spend --by label:KEY`. Each row repeats what
-- accrual needs, so a report by label reads this index alone instead of one env row per label.
CREATE TABLE env_spend_labels (
    env_id            TEXT NOT NULL REFERENCES env_spend (env_id),
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    daily_cost_micros BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    PRIMARY KEY (env_id, key)
);
CREATE INDEX env_spend_labels_key
    ON env_spend_labels (key, account_id, started_at, ended_at, daily_cost_micros, value);

-- Monthly budgets per account (`plat policy set --budget-monthly`); a budget covers the
-- account's whole subtree (R-ACC-7). No foreign key: deleting an account needs no step here,
-- and a left-over row names an id that is never reused.
CREATE TABLE account_budgets (
    account_id     TEXT PRIMARY KEY,
    monthly_micros BIGINT NOT NULL,
    updated_at     TEXT NOT NULL
);
