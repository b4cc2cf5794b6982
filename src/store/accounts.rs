use crate::api::Timestamp;
use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::{Conn, json_column, to_json_list};

#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub tenant_id: String,
    pub owner_user_id: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

/// What a listing shows of an account: its own fields with the names of its tenant, owner and
/// parent in place of their ids. No more, so a 10,000-account listing stays small in memory.
#[derive(Debug, Clone)]
pub struct AccountListing {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// The materialised path, for the caller's visibility checks.
    pub path: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
    pub tenant_name: String,
    pub owner_email: String,
    pub parent_slug: Option<String>,
}

const COLUMNS: &str = "a.id, a.slug, a.name, a.parent_id, a.path, a.tenant_id, a.owner_user_id, a.roles, a.created_at";

/// The columns of an [`AccountListing`], over `accounts a` joined as in [`LISTING_FROM`].
const LISTING_COLUMNS: &str = "a.id, a.slug, a.name, a.path, a.roles, a.created_at, \
     t.name AS tenant_name, u.email AS owner_email, p.slug AS parent_slug";

const LISTING_FROM: &str = "accounts a \
     JOIN tenants t ON t.id = a.tenant_id \
     JOIN users u ON u.id = a.owner_user_id \
     LEFT JOIN accounts p ON p.id = a.parent_id";

fn account(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        path: row.try_get("path")?,
        tenant_id: row.try_get("tenant_id")?,
        owner_user_id: row.try_get("owner_user_id")?,
        roles: json_column(row, "accounts", "roles")?,
        created_at: super::timestamp(row, "created_at", "accounts")?,
    })
}

fn listing(row: &AnyRow) -> Result<AccountListing, sqlx::Error> {
    Ok(AccountListing {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        roles: json_column(row, "accounts", "roles")?,
        created_at: super::timestamp(row, "created_at", "accounts")?,
        tenant_name: row.try_get("tenant_name")?,
        owner_email: row.try_get("owner_email")?,
        parent_slug: row.try_get("parent_slug")?,
    })
}

pub async fn find_account_by_slug(
    conn: &mut Conn,
    slug: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM accounts a WHERE a.slug = $1"
    ));
    let row = sqlx::query(sql)
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(account).transpose()?)
}

pub async fn find_account_by_id(
    conn: &mut Conn,
    id: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM accounts a WHERE a.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(account).transpose()?)
}

pub async fn find_master_account(conn: &mut Conn) -> Result<Option<AccountRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM accounts a WHERE a.parent_id IS NULL"
    ));
    let row = sqlx::query(sql).fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(account).transpose()?)
}

/// Every account whose path starts with `path_prefix`: an account and all its descendants.
pub async fn list_subtree(
    conn: &mut Conn,
    path_prefix: &str,
    limit: Option<u32>,
) -> Result<Vec<AccountListing>, StoreError> {
    let path_prefix = super::subtree_prefix(path_prefix)?;
    let limit = limit.map_or(i64::MAX, i64::from);
    if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        return list_subtree_batched(conn, path_prefix, limit).await;
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {LISTING_COLUMNS} FROM {LISTING_FROM} \
         WHERE substr(a.path, 1, length($1)) = $1 \
         ORDER BY a.path LIMIT $2"
    ));
    // Row by row: a subtree of 10,000 accounts never sits in memory twice.
    let mut rows = sqlx::query(sql)
        .bind(path_prefix)
        .bind(limit)
        .fetch(&mut *conn);
    let mut listings = Vec::new();
    while let Some(row) = rows.try_next().await? {
        listings.push(listing(&row)?);
    }
    Ok(listings)
}

/// Accounts per row of the batched SQLite listing.
const BATCH: i64 = 250;

/// One batch of the SQLite listing: the next accounts after path `$2` under prefix `$1`, at most
/// `$3`, as one JSON array of [`AccountListing`]s, with their number and the last path.
fn batch_sql() -> String {
    // The aggregate has no ORDER BY of its own: SQLite would sort each batch again through a
    // temporary B-tree. It keeps the subquery's order, and the listing is sorted once more in
    // `list_subtree_batched` in case a later SQLite does not.
    format!(
        "SELECT CAST(json_group_array(json_array(id, slug, name, path, json(roles), created_at, \
                tenant_name, owner_email, parent_slug)) AS TEXT) AS batch, \
                count(*) AS accounts, max(path) AS last \
         FROM (SELECT {LISTING_COLUMNS} FROM {LISTING_FROM} \
               WHERE substr(a.path, 1, length($1)) = $1 AND a.path > $2 \
               ORDER BY a.path LIMIT $3)"
    )
}

/// The same listing on SQLite, where sqlx hands every row from its worker thread to the caller
/// with a thread wake-up and several copies: at 10,000 accounts that hand-off costs more than
/// the query. Each statement packs the next `BATCH` accounts (a range scan of the covering
/// `accounts_listing` index) into one JSON array, so a large subtree crosses over in a few rows
/// of bounded size. A deferred transaction reads every page from one snapshot without taking
/// the write lock.
async fn list_subtree_batched(
    conn: &mut Conn,
    path_prefix: &str,
    limit: i64,
) -> Result<Vec<AccountListing>, StoreError> {
    use sqlx::Connection;
    let sql = batch_sql();
    let mut tx = conn.begin().await?;
    let mut listings: Vec<AccountListing> = Vec::new();
    let mut unparsed: Option<String> = None;
    let mut fetched: i64 = 0;
    let mut after = String::new();
    loop {
        let take = BATCH.min(limit - fetched);
        if take <= 0 {
            break;
        }
        let next = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(path_prefix)
            .bind(&after)
            .bind(take)
            .fetch_one(&mut *tx);
        // The statement goes to SQLite's worker thread first, so the worker packs this batch
        // while this thread parses the previous one.
        let (row, previous) = tokio::join!(biased; next, parse_batch(unparsed.take()));
        listings.extend(previous?);
        let row = row?;
        let accounts: i64 = row.try_get("accounts")?;
        let last: Option<String> = row.try_get("last")?;
        unparsed = Some(row.try_get("batch")?);
        fetched += accounts;
        match last {
            Some(last) if accounts == take => after = last,
            _ => break,
        }
    }
    tx.commit().await?;
    listings.extend(parse_batch(unparsed).await?);
    // Batches follow each other in path order, so this stable sort is one pass over sorted data.
    listings.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listings)
}

/// A batch of [`batch_sql`], parsed. Async only to run beside a statement in `tokio::join!`:
/// it never waits.
async fn parse_batch(batch: Option<String>) -> Result<Vec<AccountListing>, StoreError> {
    let Some(batch) = batch else {
        return Ok(Vec::new());
    };
    let listed: Vec<ListedAccount> = serde_json::from_str(&batch)
        .map_err(|err| StoreError::broken(format!("cannot read the account listing: {err}")))?;
    listed.into_iter().map(ListedAccount::parsed).collect()
}

/// An [`AccountListing`] as the SQLite batch spells it, its time still text: parsed one by
/// one, so that a corrupt time names its row as every other read does. Deserialised from a
/// JSON array, so the fields keep the column order of [`batch_sql`].
#[derive(serde::Deserialize)]
struct ListedAccount {
    id: String,
    slug: String,
    name: String,
    path: String,
    roles: Vec<String>,
    created_at: String,
    tenant_name: String,
    owner_email: String,
    parent_slug: Option<String>,
}

impl ListedAccount {
    fn parsed(self) -> Result<AccountListing, StoreError> {
        let created_at = self.created_at.parse().map_err(|err| {
            StoreError::broken_with_hint(
                format!("accounts.created_at of row {}: {err}", self.id),
                "the database was changed outside plat; restore that row from a backup",
            )
        })?;
        Ok(AccountListing {
            id: self.id,
            slug: self.slug,
            name: self.name,
            path: self.path,
            roles: self.roles,
            created_at,
            tenant_name: self.tenant_name,
            owner_email: self.owner_email,
            parent_slug: self.parent_slug,
        })
    }
}

pub async fn get_listing(conn: &mut Conn, account_id: &str) -> Result<AccountListing, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {LISTING_COLUMNS} FROM {LISTING_FROM} \
         WHERE a.id = $1"
    ));
    let row = sqlx::query(sql)
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(listing(&row)?)
}

pub async fn insert_account(conn: &mut Conn, row: &AccountRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, slug, name, parent_id, path, tenant_id, owner_user_id, roles, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.slug)
    .bind(&row.name)
    .bind(&row.parent_id)
    .bind(&row.path)
    .bind(&row.tenant_id)
    .bind(&row.owner_user_id)
    .bind(to_json_list(&row.roles))
    .bind(row.created_at.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn update_account(conn: &mut Conn, row: &AccountRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET name = $1, tenant_id = $2, owner_user_id = $3, roles = $4 WHERE id = $5",
    )
    .bind(&row.name)
    .bind(&row.tenant_id)
    .bind(&row.owner_user_id)
    .bind(to_json_list(&row.roles))
    .bind(&row.id)
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn count_children(conn: &mut Conn, account_id: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE parent_id = $1")
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// Removes an account with its links and groups; users stay (R-USR-1).
pub async fn delete_account(conn: &mut Conn, account_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM trust_rules WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM group_idp_links WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM group_members WHERE group_id IN (SELECT id FROM user_groups WHERE account_id = $1)",
    )
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM user_groups WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM memberships WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn get_meta(conn: &mut Conn, key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT value FROM platform_meta WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get("value")).transpose()?)
}

/// Written by migrations in production; tests set a value directly.
#[cfg(test)]
pub async fn set_meta(conn: &mut Conn, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO platform_meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Service, system_clock};
    use crate::store::Store;

    /// A master account with `branches` children of `leaves` children each, owned by users
    /// of their own, on a temporary SQLite database.
    async fn tree(dir: &std::path::Path, branches: usize, leaves: usize) -> (Store, AccountRow) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
        let store = Store::open(&url, 1).await.unwrap();
        Service::new(store.clone(), system_clock())
            .bootstrap(&crate::service::test_support::bootstrap())
            .await
            .unwrap();
        let mut conn = store.acquire().await.unwrap();
        let master = find_master_account(&mut conn).await.unwrap().unwrap();
        let mut tx = store.begin(&mut conn).await.unwrap();
        let add = |parent: &AccountRow, slug: String| {
            let id = crate::store::new_id();
            AccountRow {
                path: format!("{}{id}/", parent.path),
                id,
                name: slug.to_uppercase(),
                owner_user_id: format!("u-{slug}"),
                slug,
                parent_id: Some(parent.id.clone()),
                roles: vec!["user-admin".into()],
                ..parent.clone()
            }
        };
        for b in 0..branches {
            let branch = add(&master, format!("b{b}"));
            let mut rows = vec![branch.clone()];
            rows.extend((0..leaves).map(|l| add(&branch, format!("b{b}-l{l}"))));
            for row in rows {
                let owner = crate::store::UserRow {
                    id: row.owner_user_id.clone(),
                    email: format!("{}@tree.test", row.slug),
                    name: None,
                    issuer: None,
                    subject: None,
                    created_at: row.created_at,
                };
                crate::store::insert_user(&mut tx, &owner).await.unwrap();
                insert_account(&mut tx, &row).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        (store, master)
    }

    #[tokio::test]
    async fn a_listing_across_many_batches_is_every_account_once_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        // 1 + 12 × (1 + 49) = 601 accounts: three batches, the last one partial.
        let (store, master) = tree(dir.path(), 12, 49).await;
        let mut conn = store.acquire().await.unwrap();

        let all = list_subtree(&mut conn, &master.path, None).await.unwrap();
        assert_eq!(all.len(), 601);
        assert!(
            all.windows(2).all(|w| w[0].path < w[1].path),
            "not in path order"
        );
        assert_eq!(all[0].slug, "platform");
        let leaf = all.iter().find(|a| a.slug == "b7-l30").unwrap();
        assert_eq!(leaf.parent_slug.as_deref(), Some("b7"));
        assert_eq!(leaf.owner_email, "b7-l30@tree.test");
        assert_eq!(leaf.tenant_name, "default");
        assert_eq!(leaf.name, "B7-L30");
        assert_eq!(leaf.roles, ["user-admin"]);

        for limit in [1, 249, 250, 251, 500, 600, 601, 602] {
            let some = list_subtree(&mut conn, &master.path, Some(limit))
                .await
                .unwrap();
            let slugs: Vec<_> = some.iter().map(|a| &a.slug).collect();
            let expected: Vec<_> = all.iter().take(limit as usize).map(|a| &a.slug).collect();
            assert_eq!(slugs, expected, "limit {limit}");
        }

        let branch = all.iter().find(|a| a.slug == "b3").unwrap();
        let subtree = list_subtree(&mut conn, &branch.path, None).await.unwrap();
        assert_eq!(subtree.len(), 50);
        assert!(subtree.iter().all(|a| a.path.starts_with(&branch.path)));
        assert_eq!(subtree[0].slug, "b3");
    }

    #[tokio::test]
    async fn the_sqlite_listing_reads_only_its_covering_index() {
        let dir = tempfile::tempdir().unwrap();
        let (store, master) = tree(dir.path(), 1, 1).await;
        let mut conn = store.acquire().await.unwrap();
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            batch_sql()
        )))
        .bind(&master.path)
        .bind("")
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String, _>("detail").unwrap())
        .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("COVERING INDEX accounts_listing")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:#?}"
        );
    }
}
