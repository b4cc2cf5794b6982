-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Trust rules (R-GOV-5): an account's admins let tokens of an external issuer (a GitHub Actions
-- job's ID token) act as a service identity of the account, with one group's permissions, when
-- every listed claim matches.
CREATE TABLE trust_rules (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    audience   TEXT NOT NULL,
    -- JSON object: claim name -> required value (exact, or a prefix ending in `*`).
    claims     TEXT NOT NULL,
    group_id   TEXT NOT NULL REFERENCES user_groups (id),
    -- The service identity the rule's tokens act as: a user row that no account links, so it
    -- holds nothing but what the rule's group grants.
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    UNIQUE (account_id, name)
);
-- A token is matched against the rules of its issuer, whatever the account.
CREATE INDEX trust_rules_issuer ON trust_rules (issuer);
