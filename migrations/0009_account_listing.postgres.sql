-- PostgreSQL only (SQLite runs 0009_account_listing.sqlite.sql).
-- No covering index here: a PostgreSQL B-tree entry must fit in about 2.7 kB and an account's
-- name has no length limit, so such an index could refuse an insert. Listings on a server are
-- cached per authorization version and read through the path index.
SELECT 1;
