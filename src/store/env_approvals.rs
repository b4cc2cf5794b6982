//! Approvals of environments of protected templates (R-GOV-2): the request and its decision,
//! and the templates account and tenant policies protect.

use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalRow {
    pub required_by: String,
    pub ttl_seconds: i64,
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    pub decision: Option<String>,
    /// E-mail of the approver (joined for display; stored as a user id).
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub comment: Option<String>,
}

/// The approval columns an env query joins (`ap_*`), when the env has an approval.
pub(super) fn joined_approval(row: &AnyRow) -> Result<Option<ApprovalRow>, sqlx::Error> {
    let Some(required_by) = row.try_get::<Option<String>, _>("ap_required_by")? else {
        return Ok(None);
    };
    Ok(Some(ApprovalRow {
        required_by,
        ttl_seconds: row.try_get("ap_ttl_seconds")?,
        requested_at: super::timestamp(row, "ap_requested_at", "env_approvals")?,
        expires_at: super::timestamp(row, "ap_expires_at", "env_approvals")?,
        decision: row.try_get("ap_decision")?,
        decided_by: row.try_get("ap_decided_by")?,
        decided_at: super::optional_timestamp(row, "ap_decided_at", "env_approvals")?,
        comment: row.try_get("ap_comment")?,
    }))
}

pub async fn insert_env_approval(
    conn: &mut Conn,
    env_id: &str,
    approval: &ApprovalRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO env_approvals (env_id, required_by, ttl_seconds, requested_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(env_id)
    .bind(&approval.required_by)
    .bind(approval.ttl_seconds)
    .bind(approval.requested_at.to_string())
    .bind(approval.expires_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the decision on a pending request; `false` when it was decided already (a
/// concurrent approver or the reaper came first).
pub async fn decide_env_approval(
    conn: &mut Conn,
    env_id: &str,
    decision: &str,
    decided_by_user_id: Option<&str>,
    decided_at: Timestamp,
    comment: Option<&str>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE env_approvals SET decision = $2, decided_by_user_id = $3, decided_at = $4, comment = $5 \
         WHERE env_id = $1 AND decision IS NULL",
    )
    .bind(env_id)
    .bind(decision)
    .bind(decided_by_user_id)
    .bind(decided_at.to_string())
    .bind(comment)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Starts an approved env's life: its lifetime and quota day count from the approval.
pub async fn start_approved_env(
    conn: &mut Conn,
    env_id: &str,
    status: crate::api::EnvStatus,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE envs SET status = $2, created_at = $3, expires_at = $4, quota_counted = 1 WHERE id = $1",
    )
    .bind(env_id)
    .bind(status.as_str())
    .bind(created_at.to_string())
    .bind(expires_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Templates protected by any of `scopes` (an account's ancestors and its tenant), in one query.
pub async fn approval_templates(
    conn: &mut Conn,
    scopes: &[String],
) -> Result<Vec<String>, StoreError> {
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (1..=scopes.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT template FROM env_approval_policies WHERE scope IN ({placeholders}) \
         ORDER BY template"
    ));
    let mut query = sqlx::query(sql);
    for scope in scopes {
        query = query.bind(scope);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<String, _>("template"))
        .collect::<Result<_, _>>()?)
}

pub async fn add_approval_template(
    conn: &mut Conn,
    scope: &str,
    template: &str,
    updated_at: Timestamp,
) -> Result<(), StoreError> {
    remove_approval_template(conn, scope, template).await?;
    sqlx::query(
        "INSERT INTO env_approval_policies (scope, template, updated_at) VALUES ($1, $2, $3)",
    )
    .bind(scope)
    .bind(template)
    .bind(updated_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn remove_approval_template(
    conn: &mut Conn,
    scope: &str,
    template: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM env_approval_policies WHERE scope = $1 AND template = $2")
        .bind(scope)
        .bind(template)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
