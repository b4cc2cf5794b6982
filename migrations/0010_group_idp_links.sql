-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- R-GOV-1: an account's admins map identity-provider groups (from each token's groups claim) to
-- the account's platform groups. A link only names the IdP group; who is in it is re-read from
-- every token and never copied into group_members.
CREATE TABLE group_idp_links (
    group_id   TEXT NOT NULL REFERENCES user_groups (id),
    -- The group's account, repeated so that resolving a caller reads one account's links by index.
    account_id TEXT NOT NULL REFERENCES accounts (id),
    idp_group  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (group_id, idp_group)
);
CREATE INDEX group_idp_links_account ON group_idp_links (account_id);
