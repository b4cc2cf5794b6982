-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
CREATE TABLE platform_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT,
    issuer     TEXT,
    subject    TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (issuer, subject)
);

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    domain           TEXT NOT NULL UNIQUE,
    -- No foreign key: the default tenant exists before the master account that owns it.
    owner_account_id TEXT NOT NULL,
    logo_url         TEXT,
    primary_color    TEXT,
    secondary_color  TEXT,
    description      TEXT,
    layout           TEXT NOT NULL,
    created_at       TEXT NOT NULL
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    parent_id     TEXT REFERENCES accounts (id),
    -- Materialised path '/root/.../self/': a subtree is one prefix scan (R-ACC-7).
    path          TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    owner_user_id TEXT NOT NULL REFERENCES users (id),
    roles         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX accounts_parent ON accounts (parent_id);
CREATE INDEX accounts_tenant ON accounts (tenant_id);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id),
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
