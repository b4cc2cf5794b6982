use std::collections::BTreeMap;

use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub owner_account_id: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub description: Option<String>,
    pub layout: BTreeMap<String, String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "t.id, t.name, t.domain, t.owner_account_id, t.logo_url, t.primary_color, \
                       t.secondary_color, t.description, t.layout, t.created_at";

fn tenant(row: &AnyRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        domain: row.try_get("domain")?,
        owner_account_id: row.try_get("owner_account_id")?,
        logo_url: row.try_get("logo_url")?,
        primary_color: row.try_get("primary_color")?,
        secondary_color: row.try_get("secondary_color")?,
        description: row.try_get("description")?,
        layout: super::json_column(row, "tenants", "layout")?,
        created_at: super::timestamp(row, "created_at", "tenants")?,
    })
}

async fn find_by(
    conn: &mut Conn,
    column: &str,
    value: &str,
) -> Result<Option<TenantRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tenants t WHERE t.{column} = $1"
    ));
    let row = sqlx::query(sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(tenant).transpose()?)
}

pub async fn find_tenant_by_id(conn: &mut Conn, id: &str) -> Result<Option<TenantRow>, StoreError> {
    find_by(conn, "id", id).await
}

pub async fn find_tenant_by_name(
    conn: &mut Conn,
    name: &str,
) -> Result<Option<TenantRow>, StoreError> {
    find_by(conn, "name", name).await
}

pub async fn find_tenant_by_domain(
    conn: &mut Conn,
    domain: &str,
) -> Result<Option<TenantRow>, StoreError> {
    find_by(conn, "domain", domain).await
}

/// A tenant with its owner account's slug and path.
pub struct OwnedTenant {
    pub tenant: TenantRow,
    pub owner_slug: String,
    pub owner_path: String,
}

/// Tenants owned by accounts under `path_prefix`, plus the tenant with id `bound_tenant_id`.
pub async fn list_tenants_for(
    conn: &mut Conn,
    path_prefix: &str,
    bound_tenant_id: &str,
) -> Result<Vec<OwnedTenant>, StoreError> {
    let path_prefix = super::subtree_prefix(path_prefix)?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, o.slug AS owner_slug, o.path AS owner_path FROM tenants t \
         JOIN accounts o ON o.id = t.owner_account_id \
         WHERE substr(o.path, 1, length($1)) = $1 OR t.id = $2 ORDER BY t.name"
    ));
    let rows = sqlx::query(sql)
        .bind(path_prefix)
        .bind(bound_tenant_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(OwnedTenant {
                tenant: tenant(row)?,
                owner_slug: row.try_get("owner_slug")?,
                owner_path: row.try_get("owner_path")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn insert_tenant(conn: &mut Conn, row: &TenantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenants (id, name, domain, owner_account_id, logo_url, primary_color, \
         secondary_color, description, layout, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.domain)
    .bind(&row.owner_account_id)
    .bind(&row.logo_url)
    .bind(&row.primary_color)
    .bind(&row.secondary_color)
    .bind(&row.description)
    .bind(serde_json::to_string(&row.layout).unwrap_or_else(|_| "{}".into()))
    .bind(row.created_at.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn update_tenant(conn: &mut Conn, row: &TenantRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE tenants SET domain = $1, logo_url = $2, primary_color = $3, secondary_color = $4, \
         description = $5, layout = $6 WHERE id = $7",
    )
    .bind(&row.domain)
    .bind(&row.logo_url)
    .bind(&row.primary_color)
    .bind(&row.secondary_color)
    .bind(&row.description)
    .bind(serde_json::to_string(&row.layout).unwrap_or_else(|_| "{}".into()))
    .bind(&row.id)
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn count_accounts_bound(conn: &mut Conn, tenant_id: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn delete_tenant(conn: &mut Conn, tenant_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn count_tenants_owned(conn: &mut Conn, account_id: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM tenants WHERE owner_account_id = $1")
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}
