//! Spend per account (R-ACC-5): what each env costs a day, the labels it carries, and the
//! accounts' monthly budgets. Accrual is computed in SQL, so a month of 100k env-days is one
//! aggregate query, never rows shipped to the service.

use crate::api::Timestamp;
use std::collections::BTreeMap;

use sqlx::Row;

use super::Conn;
use crate::service::Error;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSpendRow {
    pub env_id: String,
    pub account_id: String,
    pub template: String,
    pub owner_email: String,
    pub tenant: String,
    /// Millionths of the platform's currency, per day.
    pub daily_cost_micros: i64,
    /// Unix seconds.
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// What spend is summed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendKey {
    Account,
    Tenant,
    Template,
    Owner,
    Label(String),
}

/// What a report accrues, in Unix seconds: time lived in [`since`, `until`) by the envs started
/// before `started_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: i64,
    pub until: i64,
    pub started_before: i64,
}

impl Window {
    /// A window that ends now: envs started this very second are in it.
    pub fn to_now(since: i64, now: i64) -> Self {
        Self {
            since,
            until: now,
            started_before: now.saturating_add(1),
        }
    }

    /// A window over a past month: envs started at its end belong to the next.
    pub fn closed(since: i64, until: i64) -> Self {
        Self {
            since,
            until,
            started_before: until,
        }
    }
}

/// One group's spend over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendSum {
    pub key: String,
    pub envs: i64,
    /// Seconds lived inside the window, summed over the envs.
    pub seconds: i64,
    pub micros: i64,
}

pub async fn insert_env_spend(
    conn: &mut Conn,
    row: &EnvSpendRow,
    labels: &BTreeMap<String, String>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO env_spend (env_id, account_id, template, owner_email, tenant, \
         daily_cost_micros, started_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.env_id)
    .bind(&row.account_id)
    .bind(&row.template)
    .bind(&row.owner_email)
    .bind(&row.tenant)
    .bind(row.daily_cost_micros)
    .bind(row.started_at)
    .bind(row.ended_at)
    .execute(&mut *conn)
    .await?;
    for (key, value) in labels {
        sqlx::query(
            "INSERT INTO env_spend_labels (env_id, key, value, account_id, daily_cost_micros, \
             started_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.env_id)
        .bind(key)
        .bind(value)
        .bind(&row.account_id)
        .bind(row.daily_cost_micros)
        .bind(row.started_at)
        .bind(row.ended_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stops an env's accrual (it is destroyed); a second call keeps the first end.
pub async fn end_env_spend(conn: &mut Conn, env_id: &str, ended_at: i64) -> Result<(), Error> {
    for table in ["env_spend", "env_spend_labels"] {
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET ended_at = $2 WHERE env_id = $1 AND ended_at IS NULL"
        ));
        sqlx::query(sql)
            .bind(env_id)
            .bind(ended_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn find_env_spend(conn: &mut Conn, env_id: &str) -> Result<Option<EnvSpendRow>, Error> {
    let row = sqlx::query(
        "SELECT env_id, account_id, template, owner_email, tenant, daily_cost_micros, \
         started_at, ended_at FROM env_spend WHERE env_id = $1",
    )
    .bind(env_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .map(|row| -> Result<EnvSpendRow, sqlx::Error> {
            Ok(EnvSpendRow {
                env_id: row.try_get("env_id")?,
                account_id: row.try_get("account_id")?,
                template: row.try_get("template")?,
                owner_email: row.try_get("owner_email")?,
                tenant: row.try_get("tenant")?,
                daily_cost_micros: row.try_get("daily_cost_micros")?,
                started_at: row.try_get("started_at")?,
                ended_at: row.try_get("ended_at")?,
            })
        })
        .transpose()?)
}

/// The monthly budget of one account (its own row only; ancestors are looked up one by one).
pub async fn find_budget(conn: &mut Conn, account_id: &str) -> Result<Option<i64>, Error> {
    let row = sqlx::query("SELECT monthly_micros FROM account_budgets WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|row| row.try_get("monthly_micros")).transpose()?)
}

/// The budget of one account, locked until the transaction ends on PostgreSQL (SQLite's
/// `BEGIN IMMEDIATE` already serialises writers): two requests under the same budget, from
/// different users, take turns to check and record, so they cannot both squeeze under it.
pub async fn find_budget_for_update(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Option<i64>, Error> {
    if conn.backend_name() != <sqlx::Postgres as sqlx::Database>::NAME {
        return find_budget(conn, account_id).await;
    }
    let row =
        sqlx::query("SELECT monthly_micros FROM account_budgets WHERE account_id = $1 FOR UPDATE")
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|row| row.try_get("monthly_micros")).transpose()?)
}

pub async fn put_budget(
    conn: &mut Conn,
    account_id: &str,
    monthly_micros: i64,
    updated_at: Timestamp,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO account_budgets (account_id, monthly_micros, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id) DO UPDATE SET monthly_micros = excluded.monthly_micros, \
         updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(monthly_micros)
    .bind(updated_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Seconds a row of `table` lived inside [$2, $3): its end (or the window's) minus its start
/// (or the window's). Plain CASE rather than LEAST/GREATEST, which SQLite spells min/max.
fn lived(table: &str) -> String {
    format!(
        "((CASE WHEN COALESCE({table}.ended_at, $3) < $3 THEN {table}.ended_at ELSE $3 END) \
         - (CASE WHEN {table}.started_at > $2 THEN {table}.started_at ELSE $2 END))"
    )
}

/// The sums over rows of `table` (aliased `s`) of the accounts under $1 that lived in [$2, $3).
fn sums(table: &str) -> String {
    let lived = lived("s");
    format!(
        "COUNT(*) AS envs, CAST(COALESCE(SUM({lived}), 0) AS BIGINT) AS seconds, \
         CAST(COALESCE(SUM(s.daily_cost_micros * {lived} / 86400), 0) AS BIGINT) AS micros \
         FROM {table} s JOIN accounts a ON a.id = s.account_id"
    )
}

/// Envs of the accounts under $1 that lived in the window: started before $4 (the window's end,
/// or just after "now" so that an env started this second is listed), not ended by $2.
const IN_WINDOW: &str = "substr(a.path, 1, length($1)) = $1 AND s.started_at < $4 \
     AND (s.ended_at IS NULL OR s.ended_at > $2)";

fn spend_sum(row: &sqlx::any::AnyRow, key: Option<String>) -> Result<SpendSum, sqlx::Error> {
    Ok(SpendSum {
        key: match key {
            Some(key) => key,
            None => row.try_get("spend_key")?,
        },
        envs: row.try_get("envs")?,
        seconds: row.try_get("seconds")?,
        micros: row.try_get("micros")?,
    })
}

/// Spend of the envs of the accounts under `account_path` in `window`, summed by `key`, largest
/// first. Envs without the label of `SpendKey::Label` are summed under an empty key.
pub async fn spend_by(
    conn: &mut Conn,
    account_path: &str,
    key: &SpendKey,
    window: Window,
) -> Result<Vec<SpendSum>, Error> {
    let account_path = super::subtree_prefix(account_path)?;
    let (column, table, label) = match key {
        SpendKey::Account => ("a.slug", "env_spend", None),
        SpendKey::Tenant => ("s.tenant", "env_spend", None),
        SpendKey::Template => ("s.template", "env_spend", None),
        SpendKey::Owner => ("s.owner_email", "env_spend", None),
        SpendKey::Label(label) => ("s.value", "env_spend_labels", Some(label.as_str())),
    };
    let filter = if label.is_some() {
        " AND s.key = $5"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {column} AS spend_key, {} WHERE {IN_WINDOW}{filter} GROUP BY {column}",
        sums(table)
    ));
    let mut query = sqlx::query(sql)
        .bind(account_path)
        .bind(window.since)
        .bind(window.until)
        .bind(window.started_before);
    if let Some(label) = label {
        query = query.bind(label);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut found = rows
        .iter()
        .map(|row| spend_sum(row, None))
        .collect::<Result<Vec<_>, _>>()?;
    if label.is_some() {
        let all = spend_all(conn, account_path, window).await?;
        let labelled = |pick: fn(&SpendSum) -> i64| found.iter().map(pick).sum::<i64>();
        let unlabelled = SpendSum {
            key: String::new(),
            envs: all.envs - labelled(|sum| sum.envs),
            seconds: all.seconds - labelled(|sum| sum.seconds),
            micros: all.micros - labelled(|sum| sum.micros),
        };
        if unlabelled.envs > 0 {
            found.push(unlabelled);
        }
    }
    found.sort_by(|a, b| b.micros.cmp(&a.micros).then_with(|| a.key.cmp(&b.key)));
    Ok(found)
}

async fn spend_all(conn: &mut Conn, account_path: &str, window: Window) -> Result<SpendSum, Error> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {} WHERE {IN_WINDOW}", sums("env_spend")));
    let row = sqlx::query(sql)
        .bind(account_path)
        .bind(window.since)
        .bind(window.until)
        .bind(window.started_before)
        .fetch_one(&mut *conn)
        .await?;
    Ok(spend_sum(&row, Some(String::new()))?)
}

/// Total spend of a subtree over [`since`, `until`), for budget checks.
pub async fn spend_total(
    conn: &mut Conn,
    account_path: &str,
    window: Window,
) -> Result<i64, Error> {
    let account_path = super::subtree_prefix(account_path)?;
    Ok(spend_all(conn, account_path, window).await?.micros)
}
