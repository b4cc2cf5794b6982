use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default)]
pub struct InventoryRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub env_id: Option<String>,
    pub source: String,
    pub published_by: String,
    pub published_at: Timestamp,
    pub resources: i64,
    pub errors: i64,
    pub warnings: i64,
    /// JSON scan document; empty in listings.
    pub report: String,
    /// Backstage entities as YAML; empty in listings.
    pub entities: String,
    /// Read-only, joined for display.
    pub account_slug: String,
    pub env_name: Option<String>,
    pub publisher_email: String,
}

const FROM: &str = "FROM inventories i JOIN accounts a ON a.id = i.account_id \
     JOIN users u ON u.id = i.published_by LEFT JOIN envs e ON e.id = i.env_id";

const SUMMARY_COLUMNS: &str = "i.id, i.account_id, i.name, i.env_id, i.source, i.published_by, \
     i.published_at, i.resources, i.errors, i.warnings, a.slug AS account_slug, \
     e.name AS env_name, u.email AS publisher_email";

fn inventory(row: &AnyRow, with_documents: bool) -> Result<InventoryRow, sqlx::Error> {
    Ok(InventoryRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        env_id: row.try_get("env_id")?,
        source: row.try_get("source")?,
        published_by: row.try_get("published_by")?,
        published_at: super::timestamp(row, "published_at", "inventories")?,
        resources: row.try_get("resources")?,
        errors: row.try_get("errors")?,
        warnings: row.try_get("warnings")?,
        report: if with_documents {
            row.try_get("report")?
        } else {
            String::new()
        },
        entities: if with_documents {
            row.try_get("entities")?
        } else {
            String::new()
        },
        account_slug: row.try_get("account_slug")?,
        env_name: row.try_get("env_name")?,
        publisher_email: row.try_get("publisher_email")?,
    })
}

/// Inserts the inventory, or replaces the one of the same name in the account.
pub async fn upsert_inventory(conn: &mut Conn, row: &InventoryRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO inventories (id, account_id, name, env_id, source, published_by, published_at, \
         resources, errors, warnings, report, entities) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (account_id, name) DO UPDATE SET env_id = excluded.env_id, \
         source = excluded.source, published_by = excluded.published_by, \
         published_at = excluded.published_at, resources = excluded.resources, \
         errors = excluded.errors, warnings = excluded.warnings, report = excluded.report, \
         entities = excluded.entities",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.name)
    .bind(&row.env_id)
    .bind(&row.source)
    .bind(&row.published_by)
    .bind(row.published_at.to_string())
    .bind(row.resources)
    .bind(row.errors)
    .bind(row.warnings)
    .bind(&row.report)
    .bind(&row.entities)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn find_inventory(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<InventoryRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUMMARY_COLUMNS}, i.report, i.entities {FROM} \
         WHERE i.account_id = $1 AND i.name = $2"
    ));
    let row = sqlx::query(sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(|r| inventory(r, true)).transpose()?)
}

/// The account's inventories by name, without their documents.
pub async fn list_inventories(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<InventoryRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUMMARY_COLUMNS} {FROM} WHERE i.account_id = $1 ORDER BY i.name"
    ));
    let rows = sqlx::query(sql)
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| inventory(r, false))
        .collect::<Result<_, _>>()?)
}

/// Every entity document of the account's inventories, for one Backstage catalog location.
pub async fn inventory_entities(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT entities FROM inventories WHERE account_id = $1 ORDER BY name")
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("entities"))
        .collect::<Result<_, _>>()?)
}
