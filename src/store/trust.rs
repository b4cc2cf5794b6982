//! Trust rules (R-GOV-5): which external issuers' tokens act as which service identity of an
//! account, with which group's permissions.

use crate::api::Timestamp;
use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::{Conn, json_column};

#[derive(Debug, Clone)]
pub struct TrustRuleRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    /// Claim name -> required value.
    pub claims: BTreeMap<String, String>,
    pub group_id: String,
    /// The group's name, read with the rule.
    pub group_name: String,
    pub user_id: String,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "t.id, t.account_id, t.name, t.issuer, t.audience, t.claims, t.group_id, \
                       g.name AS group_name, t.user_id, t.created_at";

fn trust_rule(row: &AnyRow) -> Result<TrustRuleRow, sqlx::Error> {
    Ok(TrustRuleRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        issuer: row.try_get("issuer")?,
        audience: row.try_get("audience")?,
        claims: json_column(row, "trust_rules", "claims")?,
        group_id: row.try_get("group_id")?,
        group_name: row.try_get("group_name")?,
        user_id: row.try_get("user_id")?,
        created_at: super::timestamp(row, "created_at", "trust_rules")?,
    })
}

async fn select(
    conn: &mut Conn,
    filter: &str,
    binds: &[&str],
) -> Result<Vec<TrustRuleRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM trust_rules t JOIN user_groups g ON g.id = t.group_id \
         WHERE {filter} ORDER BY t.created_at, t.name"
    ));
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(trust_rule).collect::<Result<_, _>>()?)
}

pub async fn list_trust_rules(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<TrustRuleRow>, StoreError> {
    select(conn, "t.account_id = $1", &[account_id]).await
}

pub async fn find_trust_rule(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<TrustRuleRow>, StoreError> {
    let mut rows = select(
        conn,
        "t.account_id = $1 AND t.name = $2",
        &[account_id, name],
    )
    .await?;
    Ok(rows.pop())
}

/// Every account's rules for one issuer, oldest first: what a token of that issuer is matched
/// against.
pub async fn trust_rules_of_issuer(
    conn: &mut Conn,
    issuer: &str,
) -> Result<Vec<TrustRuleRow>, StoreError> {
    select(conn, "t.issuer = $1", &[issuer]).await
}

/// The names of the rules that act with one group.
pub async fn trust_rules_of_group(
    conn: &mut Conn,
    group_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = select(conn, "t.group_id = $1", &[group_id]).await?;
    Ok(rows.into_iter().map(|rule| rule.name).collect())
}

pub async fn insert_trust_rule(conn: &mut Conn, row: &TrustRuleRow) -> Result<(), StoreError> {
    let claims = serde_json::to_string(&row.claims).unwrap_or_else(|_| "{}".into());
    sqlx::query(
        "INSERT INTO trust_rules \
         (id, account_id, name, issuer, audience, claims, group_id, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.name)
    .bind(&row.issuer)
    .bind(&row.audience)
    .bind(claims)
    .bind(&row.group_id)
    .bind(&row.user_id)
    .bind(row.created_at.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn delete_trust_rule(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM trust_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}
