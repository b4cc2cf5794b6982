-- SQLite only (PostgreSQL runs 0009_account_listing.postgres.sql).
-- `account list` walks a subtree in path order. Through the path index alone that is one table
-- seek per account, in an order unrelated to where the rows sit, so a 10,000-account listing
-- spent most of its time on random page reads. An index holding every listed column turns the
-- walk into one sequential read of the index.
CREATE INDEX accounts_listing
    ON accounts (path, id, slug, name, roles, created_at, tenant_id, owner_user_id, parent_id);
