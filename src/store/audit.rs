//! The audit trail (R-GOV-3): appended, read by subtree, and pruned only through the retention
//! cutoff that the database's triggers check (migration 0013). There is no update path.

use crate::api::Timestamp;
use sqlx::Row;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRow {
    pub id: String,
    pub at: Timestamp,
    /// The user's e-mail, or the service identity's.
    pub actor: String,
    pub actor_issuer: Option<String>,
    /// The service identity that acted for `actor` (R-GOV-5).
    pub delegated_by: Option<String>,
    pub account_id: String,
    /// The acting account's path: what an account's admins may read is found by prefix.
    pub account_path: String,
    pub account_slug: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub error_code: Option<String>,
    pub request_id: String,
    pub source: String,
}

/// Record ids, rising in the order this process appends them (plain ULIDs are random within a
/// millisecond): pages read newest first by id, so a burst of writes reads in its own order.
static AUDIT_IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

pub fn new_audit_id() -> String {
    let mut ids = AUDIT_IDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = match ids.generate() {
        Ok(id) => id,
        // 2^80 ids in one millisecond: the next millisecond's first.
        Err(overflow) => overflow.commit_overflow_increment(),
    };
    id.to_string().to_lowercase()
}

const COLUMNS: &str = "id, at, actor, actor_issuer, delegated_by, account_id, account_path, \
                       account_slug, action, target, outcome, error_code, request_id, source";

pub async fn append_audit(conn: &mut Conn, row: &AuditRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO audit_events ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ));
    sqlx::query(sql)
        .bind(&row.id)
        .bind(row.at.to_string())
        .bind(&row.actor)
        .bind(&row.actor_issuer)
        .bind(&row.delegated_by)
        .bind(&row.account_id)
        .bind(&row.account_path)
        .bind(&row.account_slug)
        .bind(&row.action)
        .bind(&row.target)
        .bind(&row.outcome)
        .bind(&row.error_code)
        .bind(&row.request_id)
        .bind(&row.source)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which records to read: always one subtree, newest first, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditSelection {
    pub subtree: String,
    pub since: Option<Timestamp>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Only records older than this id (the previous page's last).
    pub before_id: Option<String>,
    pub limit: u32,
}

pub async fn list_audit(
    conn: &mut Conn,
    selection: &AuditSelection,
) -> Result<Vec<AuditRow>, StoreError> {
    let subtree = super::subtree_prefix(&selection.subtree)?;
    let mut binds: Vec<&str> = vec![subtree];
    let mut clauses = vec!["substr(account_path, 1, length($1)) = $1".to_owned()];
    // Stored times are the canonical text, so comparing the text compares the times.
    let since = selection.since.map(|since| since.to_string());
    let optional = [
        ("at >=", since.as_deref()),
        ("actor =", selection.actor.as_deref()),
        ("action =", selection.action.as_deref()),
        ("outcome =", selection.outcome.as_deref()),
        ("id <", selection.before_id.as_deref()),
    ];
    for (condition, value) in optional {
        if let Some(value) = value {
            binds.push(value);
            clauses.push(format!("{condition} ${}", binds.len()));
        }
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {} ORDER BY id DESC LIMIT ${}",
        clauses.join(" AND "),
        binds.len() + 1
    ));
    let mut query = sqlx::query(sql);
    for value in binds {
        query = query.bind(value);
    }
    let rows = query
        .bind(i64::from(selection.limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(audit_row).collect()
}

fn audit_row(row: &sqlx::any::AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        id: row.try_get("id")?,
        at: super::timestamp(row, "at", "audit_events")?,
        actor: row.try_get("actor")?,
        actor_issuer: row.try_get("actor_issuer")?,
        delegated_by: row.try_get("delegated_by")?,
        account_id: row.try_get("account_id")?,
        account_path: row.try_get("account_path")?,
        account_slug: row.try_get("account_slug")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        error_code: row.try_get("error_code")?,
        request_id: row.try_get("request_id")?,
        source: row.try_get("source")?,
    })
}

/// Deletes the records older than `cutoff`, the one delete the database lets through: the
/// cutoff is named for this transaction only, so no other statement can use it. The caller
/// appends the record of the pruning in the same transaction.
pub async fn prune_audit(conn: &mut Conn, cutoff: Timestamp) -> Result<u64, StoreError> {
    sqlx::query("INSERT INTO audit_prune_cutoff (cutoff) VALUES ($1)")
        .bind(cutoff.to_string())
        .execute(&mut *conn)
        .await?;
    let pruned = sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(cutoff.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM audit_prune_cutoff")
        .execute(&mut *conn)
        .await?;
    Ok(pruned)
}
