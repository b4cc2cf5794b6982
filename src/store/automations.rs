use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;

#[derive(Debug, Clone, Default)]
pub struct AutomationRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    /// JSON of the validated definition.
    pub definition: String,
    pub trigger_kind: String,
    pub owner_user_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Read-only, joined for display.
    pub account_slug: String,
    pub owner_email: String,
}

const FROM: &str = "FROM automations t JOIN accounts a ON a.id = t.account_id \
     JOIN users u ON u.id = t.owner_user_id";

const COLUMNS: &str = "t.id, t.account_id, t.name, t.description, t.definition, t.trigger_kind, \
     t.owner_user_id, t.created_at, t.updated_at, a.slug AS account_slug, u.email AS owner_email";

fn automation(row: &AnyRow) -> Result<AutomationRow, sqlx::Error> {
    Ok(AutomationRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        definition: row.try_get("definition")?,
        trigger_kind: row.try_get("trigger_kind")?,
        owner_user_id: row.try_get("owner_user_id")?,
        created_at: super::timestamp(row, "created_at", "automations")?,
        updated_at: super::timestamp(row, "updated_at", "automations")?,
        account_slug: row.try_get("account_slug")?,
        owner_email: row.try_get("owner_email")?,
    })
}

pub async fn find_automation(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<AutomationRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE t.account_id = $1 AND t.name = $2"
    ));
    let row = sqlx::query(sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(automation).transpose()?)
}

pub async fn list_automations(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<AutomationRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE t.account_id = $1 ORDER BY t.name"
    ));
    let rows = sqlx::query(sql)
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(automation).collect::<Result<_, _>>()?)
}

pub async fn insert_automation(conn: &mut Conn, row: &AutomationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO automations (id, account_id, name, description, definition, trigger_kind, \
         owner_user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.definition)
    .bind(&row.trigger_kind)
    .bind(&row.owner_user_id)
    .bind(row.created_at.to_string())
    .bind(row.updated_at.to_string())
    .execute(&mut *conn)
    .await
    .map_err(|err| {
        StoreError::unique_as(
            err,
            format!("automation '{}' was applied concurrently", row.name),
            "apply it again",
        )
    })?;
    Ok(())
}

/// Re-applying keeps the id, owner and creation time; only what the definition says changes.
pub async fn update_automation(conn: &mut Conn, row: &AutomationRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE automations SET description = $2, definition = $3, trigger_kind = $4, \
         updated_at = $5 WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.description)
    .bind(&row.definition)
    .bind(&row.trigger_kind)
    .bind(row.updated_at.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_automation(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM automations WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct RunRow {
    pub id: String,
    pub account_id: String,
    pub automation_name: String,
    pub definition: String,
    pub owner_user_id: String,
    pub status: crate::api::RunStatus,
    /// JSON object of the resolved parameters.
    pub params: String,
    /// JSON list of step records.
    pub steps: String,
    pub logs: String,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// `manual`, `schedule`, `constant` or `webhook`.
    pub triggered_by: String,
    pub automation_id: Option<String>,
    /// 1 for the first worker to take the run, one more each time it is reclaimed.
    pub attempt: i64,
    /// A queued run is not taken before then (a constant trigger's back-off).
    pub not_before: Option<Timestamp>,
    pub account_slug: String,
    pub owner_email: String,
    /// The machine and process of the `plat automation run` executing it (no server worker).
    pub runner_host: Option<String>,
    pub runner_pid: Option<i64>,
    /// The process group of the exec step running now on `runner_host`.
    pub step_process_group: Option<i64>,
    /// Until when its executor holds it (a server worker, or the runner above).
    pub lease_until: Option<Timestamp>,
}

const RUN_FROM: &str = "FROM automation_runs r JOIN accounts a ON a.id = r.account_id \
     JOIN users u ON u.id = r.owner_user_id";

const RUN_COLUMNS: &str = "r.id, r.account_id, r.automation_name, r.definition, r.owner_user_id, \
     r.status, r.params, r.steps, r.logs, r.error, r.cancel_requested, r.created_at, r.started_at, \
     r.finished_at, r.triggered_by, r.automation_id, r.attempt, r.not_before, r.runner_host, \
     r.runner_pid, r.step_process_group, r.lease_until, a.slug AS account_slug, \
     u.email AS owner_email";

fn run(row: &AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        automation_name: row.try_get("automation_name")?,
        definition: row.try_get("definition")?,
        owner_user_id: row.try_get("owner_user_id")?,
        status: super::spelled(row, "status", "automation_runs")?,
        params: row.try_get("params")?,
        steps: row.try_get("steps")?,
        logs: row.try_get("logs")?,
        error: row.try_get("error")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        created_at: super::timestamp(row, "created_at", "automation_runs")?,
        started_at: super::optional_timestamp(row, "started_at", "automation_runs")?,
        finished_at: super::optional_timestamp(row, "finished_at", "automation_runs")?,
        triggered_by: row.try_get("triggered_by")?,
        automation_id: row.try_get("automation_id")?,
        attempt: row.try_get("attempt")?,
        not_before: super::optional_timestamp(row, "not_before", "automation_runs")?,
        account_slug: row.try_get("account_slug")?,
        owner_email: row.try_get("owner_email")?,
        runner_host: row.try_get("runner_host")?,
        runner_pid: row.try_get("runner_pid")?,
        step_process_group: row.try_get("step_process_group")?,
        lease_until: super::optional_timestamp(row, "lease_until", "automation_runs")?,
    })
}

pub async fn find_run(
    conn: &mut Conn,
    account_id: &str,
    id: &str,
) -> Result<Option<RunRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.account_id = $1 AND r.id = $2"
    ));
    let row = sqlx::query(sql)
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(run).transpose()?)
}

/// Runs of one account (of one automation when named), newest first.
pub async fn list_runs(
    conn: &mut Conn,
    account_id: &str,
    automation: Option<&str>,
) -> Result<Vec<RunRow>, StoreError> {
    let filter = if automation.is_some() {
        " AND r.automation_name = $2"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.account_id = $1{filter} \
         ORDER BY r.created_at DESC, r.id DESC"
    ));
    let mut query = sqlx::query(sql).bind(account_id);
    if let Some(name) = automation {
        query = query.bind(name);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(run).collect::<Result<_, _>>()?)
}

pub async fn insert_run(conn: &mut Conn, row: &RunRow) -> Result<(), StoreError> {
    insert_run_query(row, "").execute(&mut *conn).await?;
    Ok(())
}

/// Inserts unless a unique key refuses the run (a constant automation's one active run):
/// `false` then, and nothing was written.
pub async fn insert_run_unless_active(conn: &mut Conn, row: &RunRow) -> Result<bool, StoreError> {
    let done = insert_run_query(row, " ON CONFLICT DO NOTHING")
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn insert_run_query<'q>(
    row: &'q RunRow,
    on_conflict: &str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO automation_runs (id, account_id, automation_name, definition, owner_user_id, \
         status, params, steps, logs, error, cancel_requested, created_at, started_at, finished_at, \
         lease_until, triggered_by, automation_id, attempt, not_before, runner_host, runner_pid) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21){on_conflict}"
    ));
    sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.account_id)
        .bind(&row.automation_name)
        .bind(&row.definition)
        .bind(&row.owner_user_id)
        .bind(row.status.as_str())
        .bind(&row.params)
        .bind(&row.steps)
        .bind(&row.logs)
        .bind(&row.error)
        .bind(i64::from(row.cancel_requested))
        .bind(row.created_at.to_string())
        .bind(row.started_at.map(|t| t.to_string()))
        .bind(row.finished_at.map(|t| t.to_string()))
        .bind(row.lease_until.map(|t| t.to_string()))
        .bind(&row.triggered_by)
        .bind(&row.automation_id)
        .bind(row.attempt)
        .bind(row.not_before.map(|t| t.to_string()))
        .bind(&row.runner_host)
        .bind(row.runner_pid)
}

/// Takes the oldest queued run for a server worker: marks it running under a lease and returns
/// its id. On PostgreSQL concurrent workers skip rows another one has locked (`SKIP LOCKED`); on
/// SQLite the caller's `BEGIN IMMEDIATE` transaction already serialises the claim.
pub async fn claim_queued_run(
    conn: &mut Conn,
    backend: super::Backend,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<String>, StoreError> {
    let lock = match backend {
        super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        super::Backend::Sqlite => "",
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE automation_runs SET status = 'running', started_at = $1, lease_until = $2 \
         WHERE id = (SELECT id FROM automation_runs WHERE status = 'queued' \
         AND (not_before IS NULL OR not_before <= $1) ORDER BY created_at, id LIMIT 1{lock}) \
         RETURNING id"
    ));
    let row = sqlx::query(sql)
        .bind(now.to_string())
        .bind(lease_until.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<String, _>("id")).transpose()?)
}

/// Takes one announced run for a server worker, by id: only while it is still queued and due,
/// so a run announced twice (at-least-once delivery) is taken once. `false` when it was not.
pub async fn claim_run(
    conn: &mut Conn,
    id: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE automation_runs SET status = 'running', started_at = $2, lease_until = $3 \
         WHERE id = $1 AND status = 'queued' AND (not_before IS NULL OR not_before <= $2)",
    )
    .bind(id)
    .bind(now.to_string())
    .bind(lease_until.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether any due, queued run waits to be announced: a plain read, so an idle relay takes no
/// write lock.
pub async fn any_run_to_announce(conn: &mut Conn, now: Timestamp) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT id FROM automation_runs WHERE status = 'queued' AND announced_at IS NULL \
         AND (not_before IS NULL OR not_before <= $1) LIMIT 1",
    )
    .bind(now.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// Marks up to `limit` due, queued runs as announced and returns their ids, oldest first. On
/// PostgreSQL replicas skip the rows another one is marking, so each run is announced once.
pub async fn mark_due_runs_announced(
    conn: &mut Conn,
    backend: super::Backend,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let lock = match backend {
        super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        super::Backend::Sqlite => "",
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE automation_runs SET announced_at = $1 WHERE id IN (SELECT id FROM automation_runs \
         WHERE status = 'queued' AND announced_at IS NULL \
         AND (not_before IS NULL OR not_before <= $1) ORDER BY created_at, id LIMIT $2{lock}) \
         RETURNING id, created_at"
    ));
    let rows = sqlx::query(sql)
        .bind(now.to_string())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let mut announced = rows
        .iter()
        .map(|r| {
            Ok((
                super::timestamp(r, "created_at", "automation_runs")?,
                r.try_get("id")?,
            ))
        })
        .collect::<Result<Vec<(Timestamp, String)>, sqlx::Error>>()?;
    // RETURNING follows no ORDER BY: the oldest are announced first all the same.
    announced.sort();
    Ok(announced.into_iter().map(|(_, id)| id).collect())
}

/// Takes back announcements that never reached the broker, so they are made again.
pub async fn unmark_runs_announced(conn: &mut Conn, ids: &[String]) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query(
            "UPDATE automation_runs SET announced_at = NULL WHERE id = $1 AND status = 'queued'",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A run by id alone, for the server's own workers (no account scope).
pub async fn find_run_by_id(conn: &mut Conn, id: &str) -> Result<Option<RunRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(run).transpose()?)
}

/// Writes what the executor reports; `cancel_requested` is never cleared here (only `cancel` sets it).
pub async fn update_run(conn: &mut Conn, row: &RunRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE automation_runs SET status = $2, steps = $3, logs = $4, error = $5, \
         started_at = $6, finished_at = $7, lease_until = $8, step_process_group = $9 \
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(row.status.as_str())
    .bind(&row.steps)
    .bind(&row.logs)
    .bind(&row.error)
    .bind(row.started_at.map(|t| t.to_string()))
    .bind(row.finished_at.map(|t| t.to_string()))
    .bind(row.lease_until.map(|t| t.to_string()))
    .bind(row.step_process_group)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn request_run_cancel(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE automation_runs SET cancel_requested = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Automations triggered by a queue, in every account (for the server's queue consumers).
pub async fn list_queue_triggered_automations(
    conn: &mut Conn,
) -> Result<Vec<AutomationRow>, StoreError> {
    automations_in_every_account(conn, "t.trigger_kind LIKE 'queue %'").await
}

/// Automations whose trigger the server runs by itself: schedules and constant ones.
pub async fn list_self_triggered_automations(
    conn: &mut Conn,
) -> Result<Vec<AutomationRow>, StoreError> {
    automations_in_every_account(
        conn,
        "t.trigger_kind = 'constant' OR t.trigger_kind LIKE 'schedule %'",
    )
    .await
}

/// The automations of every account matching `condition` (a fixed SQL fragment over `t`), in
/// a stable order: what the server's trigger loops walk.
async fn automations_in_every_account(
    conn: &mut Conn,
    condition: &'static str,
) -> Result<Vec<AutomationRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE {condition} ORDER BY t.id"
    ));
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(automation).collect::<Result<_, _>>()?)
}

/// An automation by its account's slug and its name, for callers without an actor (webhooks).
pub async fn find_automation_by_account_slug(
    conn: &mut Conn,
    account_slug: &str,
    name: &str,
) -> Result<Option<AutomationRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE a.slug = $1 AND t.name = $2"
    ));
    let row = sqlx::query(sql)
        .bind(account_slug)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(automation).transpose()?)
}

/// Records a schedule tick as fired; `false` when some replica already fired it.
pub async fn insert_tick(
    conn: &mut Conn,
    automation_id: &str,
    scheduled_at: Timestamp,
    run_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO automation_ticks (automation_id, scheduled_at, run_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(automation_id)
    .bind(scheduled_at.to_string())
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Statuses of an automation's latest runs of one trigger, newest first.
pub async fn latest_run_statuses(
    conn: &mut Conn,
    automation_id: &str,
    triggered_by: &str,
    limit: i64,
) -> Result<Vec<(crate::api::RunStatus, Option<Timestamp>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, status, finished_at FROM automation_runs WHERE automation_id = $1 \
         AND triggered_by = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(automation_id)
    .bind(triggered_by)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok((
                super::spelled(r, "status", "automation_runs")?,
                super::optional_timestamp(r, "finished_at", "automation_runs")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Extends the lease of a run its worker still holds (same attempt, still running); `false`
/// when the run was taken away from it.
pub async fn renew_run_lease(
    conn: &mut Conn,
    id: &str,
    attempt: i64,
    lease_until: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE automation_runs SET lease_until = $3 WHERE id = $1 AND attempt = $2 \
         AND status = 'running'",
    )
    .bind(id)
    .bind(attempt)
    .bind(lease_until.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Runs taken by a worker whose lease has lapsed: the worker died or lost the database.
pub async fn runs_with_lapsed_lease(
    conn: &mut Conn,
    now: Timestamp,
) -> Result<Vec<RunRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.status = 'running' AND r.runner_host IS NULL \
         AND r.lease_until IS NOT NULL AND r.lease_until < $1 ORDER BY r.created_at"
    ));
    let rows = sqlx::query(sql)
        .bind(now.to_string())
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(run).collect::<Result<_, _>>()?)
}

/// Runs of `plat automation run` whose runner stopped renewing its lease (killed, or its
/// machine gone): they are failed, never retried elsewhere.
pub async fn local_runs_with_lapsed_lease(
    conn: &mut Conn,
    now: Timestamp,
) -> Result<Vec<RunRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.status = 'running' AND r.runner_host IS NOT NULL \
         AND r.lease_until IS NOT NULL AND r.lease_until < $1 ORDER BY r.created_at"
    ));
    let rows = sqlx::query(sql)
        .bind(now.to_string())
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(run).collect::<Result<_, _>>()?)
}

/// Puts a lapsed run back in the queue as its next attempt, or ends it; only if nobody else
/// did first (same attempt, still running). `false` when another replica got there first.
pub async fn reclaim_run(
    conn: &mut Conn,
    row: &RunRow,
    seen_attempt: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE automation_runs SET status = $3, steps = $4, logs = $5, error = $6, \
         started_at = $7, finished_at = $8, attempt = $9, lease_until = NULL, \
         announced_at = NULL WHERE id = $1 AND attempt = $2 AND status = 'running'",
    )
    .bind(&row.id)
    .bind(seen_attempt)
    .bind(row.status.as_str())
    .bind(&row.steps)
    .bind(&row.logs)
    .bind(&row.error)
    .bind(row.started_at.map(|t| t.to_string()))
    .bind(row.finished_at.map(|t| t.to_string()))
    .bind(row.attempt)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
