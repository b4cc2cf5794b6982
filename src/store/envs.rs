use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default)]
pub struct EnvRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub template: String,
    /// JSON object of the resolved template parameters.
    pub params: String,
    pub owner_user_id: String,
    pub status: crate::api::EnvStatus,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub destroyed_at: Option<Timestamp>,
    /// JSON object of outputs, sensitive values already redacted.
    pub outputs: String,
    /// JSON list of resource addresses.
    pub resources: String,
    pub error: Option<String>,
    pub quota_counted: bool,
    pub reaper_lease_until: Option<String>,
    pub reaper_attempts: i64,
    /// Read-only, joined for display: the account's slug and the owner's e-mail.
    pub account_slug: String,
    pub owner_email: String,
    /// Read-only, joined: the approval this env needed (R-GOV-2), if any.
    pub approval: Option<super::ApprovalRow>,
}

const FROM: &str = "FROM envs e JOIN accounts a ON a.id = e.account_id JOIN users u ON u.id = e.owner_user_id \
     LEFT JOIN env_approvals ap ON ap.env_id = e.id LEFT JOIN users du ON du.id = ap.decided_by_user_id";

const COLUMNS: &str = "e.id, e.account_id, e.name, e.template, e.params, e.owner_user_id, e.status, \
     e.idempotency_key, e.created_at, e.expires_at, e.destroyed_at, e.outputs, e.resources, e.error, \
     e.quota_counted, e.reaper_lease_until, e.reaper_attempts, a.slug AS account_slug, \
     u.email AS owner_email, \
     ap.required_by AS ap_required_by, ap.ttl_seconds AS ap_ttl_seconds, \
     ap.requested_at AS ap_requested_at, ap.expires_at AS ap_expires_at, ap.decision AS ap_decision, \
     du.email AS ap_decided_by, ap.decided_at AS ap_decided_at, ap.comment AS ap_comment";

fn env(row: &AnyRow) -> Result<EnvRow, sqlx::Error> {
    Ok(EnvRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        template: row.try_get("template")?,
        params: row.try_get("params")?,
        owner_user_id: row.try_get("owner_user_id")?,
        status: super::spelled(row, "status", "envs")?,
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: super::timestamp(row, "created_at", "envs")?,
        expires_at: super::timestamp(row, "expires_at", "envs")?,
        destroyed_at: super::optional_timestamp(row, "destroyed_at", "envs")?,
        outputs: row.try_get("outputs")?,
        resources: row.try_get("resources")?,
        error: row.try_get("error")?,
        quota_counted: row.try_get::<i64, _>("quota_counted")? != 0,
        reaper_lease_until: row.try_get("reaper_lease_until")?,
        reaper_attempts: row.try_get("reaper_attempts")?,
        account_slug: row.try_get("account_slug")?,
        owner_email: row.try_get("owner_email")?,
        approval: super::env_approvals::joined_approval(row)?,
    })
}

async fn fetch_one_env(
    conn: &mut Conn,
    condition: &str,
    binds: &[&str],
) -> Result<Option<EnvRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} {FROM} WHERE {condition}"));
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let row = query.fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(env).transpose()?)
}

pub async fn find_live_env(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<EnvRow>, StoreError> {
    fetch_one_env(
        conn,
        "e.account_id = $1 AND e.name = $2 AND e.destroyed_at IS NULL",
        &[account_id, name],
    )
    .await
}

/// The most recent env of that name, live or destroyed.
pub async fn find_last_env(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<EnvRow>, StoreError> {
    fetch_one_env(
        conn,
        "e.account_id = $1 AND e.name = $2 ORDER BY e.created_at DESC, e.id DESC LIMIT 1",
        &[account_id, name],
    )
    .await
}

pub async fn find_env_by_id(conn: &mut Conn, id: &str) -> Result<Option<EnvRow>, StoreError> {
    fetch_one_env(conn, "e.id = $1", &[id]).await
}

pub async fn find_env_by_idempotency_key(
    conn: &mut Conn,
    owner_user_id: &str,
    key: &str,
) -> Result<Option<EnvRow>, StoreError> {
    fetch_one_env(
        conn,
        "e.owner_user_id = $1 AND e.idempotency_key = $2",
        &[owner_user_id, key],
    )
    .await
}

/// Envs of one account, newest first; destroyed ones only when asked for.
pub async fn list_envs(
    conn: &mut Conn,
    account_id: &str,
    include_destroyed: bool,
) -> Result<Vec<EnvRow>, StoreError> {
    let live = if include_destroyed {
        ""
    } else {
        " AND e.destroyed_at IS NULL"
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE e.account_id = $1{live} ORDER BY e.created_at DESC, e.name"
    ));
    let rows = sqlx::query(sql)
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(env).collect::<Result<_, _>>()?)
}

/// Live envs past their expiry in the accounts under `account_path`, whose reaper lease is free.
pub async fn expired_envs(
    conn: &mut Conn,
    account_path: &str,
    now: Timestamp,
) -> Result<Vec<EnvRow>, StoreError> {
    let account_path = super::subtree_prefix(account_path)?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} \
         WHERE e.destroyed_at IS NULL AND e.expires_at <= $1 AND substr(a.path, 1, length($2)) = $2 \
         AND (e.reaper_lease_until IS NULL OR e.reaper_lease_until <= $1) \
         ORDER BY e.expires_at"
    ));
    let rows = sqlx::query(sql)
        .bind(now.to_string())
        .bind(account_path)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(env).collect::<Result<_, _>>()?)
}

/// Envs `owner` created since `since` that still count against the quota.
pub async fn count_quota_envs(
    conn: &mut Conn,
    owner_user_id: &str,
    since: Timestamp,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM envs WHERE owner_user_id = $1 AND created_at >= $2 AND quota_counted = 1",
    )
    .bind(owner_user_id)
    .bind(since.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")?)
}

pub async fn insert_env(conn: &mut Conn, row: &EnvRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO envs (id, account_id, name, template, params, owner_user_id, status, \
         idempotency_key, created_at, expires_at, destroyed_at, outputs, resources, error, \
         quota_counted, reaper_lease_until, reaper_attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.name)
    .bind(&row.template)
    .bind(&row.params)
    .bind(&row.owner_user_id)
    .bind(row.status.as_str())
    .bind(&row.idempotency_key)
    .bind(row.created_at.to_string())
    .bind(row.expires_at.to_string())
    .bind(row.destroyed_at.map(|t| t.to_string()))
    .bind(&row.outputs)
    .bind(&row.resources)
    .bind(&row.error)
    .bind(i64::from(row.quota_counted))
    .bind(&row.reaper_lease_until)
    .bind(row.reaper_attempts)
    .execute(&mut *conn)
    .await
    .map_err(|err| unique_as_conflict(err, &row.name))?;
    Ok(())
}

/// Two concurrent `up` of one name race to this index; the loser gets a clear conflict.
fn unique_as_conflict(err: sqlx::Error, name: &str) -> StoreError {
    StoreError::unique_as(
        err,
        format!("environment '{name}' already exists"),
        "pick another name, or `plat env down` the existing one first",
    )
}

pub async fn update_env(conn: &mut Conn, row: &EnvRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE envs SET status = $2, expires_at = $3, destroyed_at = $4, outputs = $5, \
         resources = $6, error = $7, quota_counted = $8, reaper_lease_until = $9, reaper_attempts = $10 \
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(row.status.as_str())
    .bind(row.expires_at.to_string())
    .bind(row.destroyed_at.map(|t| t.to_string()))
    .bind(&row.outputs)
    .bind(&row.resources)
    .bind(&row.error)
    .bind(i64::from(row.quota_counted))
    .bind(&row.reaper_lease_until)
    .bind(row.reaper_attempts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Frees a destroyed env's idempotency key, so that the key names the caller's next env.
pub async fn release_idempotency_key(conn: &mut Conn, env_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE envs SET idempotency_key = NULL WHERE id = $1")
        .bind(env_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the reaper lease of an env if nobody holds it; `true` when this caller now owns it.
pub async fn claim_reaper_lease(
    conn: &mut Conn,
    env_id: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE envs SET reaper_lease_until = $3, reaper_attempts = reaper_attempts + 1 \
         WHERE id = $1 AND destroyed_at IS NULL \
         AND (reaper_lease_until IS NULL OR reaper_lease_until <= $2)",
    )
    .bind(env_id)
    .bind(now.to_string())
    .bind(until.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Default)]
pub struct EnvStateRow {
    pub env_id: String,
    pub state: Option<String>,
    pub lock_info: Option<String>,
    pub updated_at: Timestamp,
}

pub async fn find_env_state(
    conn: &mut Conn,
    env_id: &str,
) -> Result<Option<EnvStateRow>, StoreError> {
    let row = sqlx::query(
        "SELECT env_id, state, lock_info, updated_at FROM env_states WHERE env_id = $1",
    )
    .bind(env_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .map(|row| -> Result<EnvStateRow, sqlx::Error> {
            Ok(EnvStateRow {
                env_id: row.try_get("env_id")?,
                state: row.try_get("state")?,
                lock_info: row.try_get("lock_info")?,
                updated_at: super::timestamp(&row, "updated_at", "env_states")?,
            })
        })
        .transpose()?)
}

pub async fn put_env_state(conn: &mut Conn, row: &EnvStateRow) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM env_states WHERE env_id = $1")
        .bind(&row.env_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO env_states (env_id, state, lock_info, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&row.env_id)
    .bind(&row.state)
    .bind(&row.lock_info)
    .bind(row.updated_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRow {
    pub scope: String,
    pub ttl_default_secs: Option<i64>,
    pub ttl_max_secs: Option<i64>,
    pub envs_per_day: Option<i64>,
    pub updated_at: Timestamp,
}

pub async fn find_policy(conn: &mut Conn, scope: &str) -> Result<Option<PolicyRow>, StoreError> {
    let row = sqlx::query(
        "SELECT scope, ttl_default_secs, ttl_max_secs, envs_per_day, updated_at FROM env_policies WHERE scope = $1",
    )
    .bind(scope)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .map(|row| -> Result<PolicyRow, sqlx::Error> {
            Ok(PolicyRow {
                scope: row.try_get("scope")?,
                ttl_default_secs: row.try_get("ttl_default_secs")?,
                ttl_max_secs: row.try_get("ttl_max_secs")?,
                envs_per_day: row.try_get("envs_per_day")?,
                updated_at: super::timestamp(&row, "updated_at", "env_policies")?,
            })
        })
        .transpose()?)
}

pub async fn put_policy(conn: &mut Conn, row: &PolicyRow) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM env_policies WHERE scope = $1")
        .bind(&row.scope)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO env_policies (scope, ttl_default_secs, ttl_max_secs, envs_per_day, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&row.scope)
    .bind(row.ttl_default_secs)
    .bind(row.ttl_max_secs)
    .bind(row.envs_per_day)
    .bind(row.updated_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn append_env_log(
    conn: &mut Conn,
    env_id: &str,
    phase: &str,
    log: &str,
    recorded_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO env_logs (id, env_id, phase, log, recorded_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(super::new_id())
    .bind(env_id)
    .bind(phase)
    .bind(log)
    .bind(recorded_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every recorded run's log of the env, oldest first, joined.
pub async fn env_log(conn: &mut Conn, env_id: &str) -> Result<String, StoreError> {
    let rows = sqlx::query("SELECT log FROM env_logs WHERE env_id = $1 ORDER BY id")
        .bind(env_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut log = String::new();
    for row in rows {
        let part: String = row.try_get("log")?;
        log.push_str(&part);
        if !log.ends_with('\n') {
            log.push('\n');
        }
    }
    Ok(log)
}
