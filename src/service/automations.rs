//! Automations (DOMAIN.md section 3): definitions stored per account and run records.
//! R-AUT-1: managing needs the account role `automation-manager` and `automations:write`;
//! running needs `automations:run`; reading `automations:read`. The service re-validates every
//! definition it is handed: a client is never trusted to have checked it.

use std::collections::BTreeMap;

use super::vocabulary::{AuditAction, Permission, Role};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{
    ApplyAutomation, Automation, AutomationApplied, AutomationRun, LocalRunner, RunLogs, RunReport,
    RunStarted, RunStep, StartRun,
};
use crate::api::{RunStatus, Timestamp};
use crate::automation::Definition;
use crate::store::{self, AutomationRow, RunRow};

/// How long a `plat automation run` holds its run without a report. The runner reports at
/// least three times per lease, so one slow round does not lose the run.
pub const LOCAL_RUN_LEASE_SECONDS: i64 = 60;

fn automation_view(row: AutomationRow) -> Result<Automation> {
    let definition = store::stored_json("automations", &row.id, "definition", &row.definition)?;
    Ok(Automation {
        id: row.id,
        name: row.name,
        description: row.description,
        account: row.account_slug,
        owner: row.owner_email,
        trigger: row.trigger_kind,
        definition,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(super) fn run_view(row: &RunRow) -> Result<AutomationRun> {
    Ok(AutomationRun {
        id: row.id.clone(),
        automation: row.automation_name.clone(),
        account: row.account_slug.clone(),
        owner: row.owner_email.clone(),
        status: row.status,
        params: store::stored_json("automation_runs", &row.id, "params", &row.params)?,
        steps: store::stored_json("automation_runs", &row.id, "steps", &row.steps)?,
        error: row.error.clone(),
        cancel_requested: row.cancel_requested,
        trigger: row.triggered_by.clone(),
        attempt: row.attempt,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        runner: row.runner_host.as_ref().map(|host| LocalRunner {
            host: host.clone(),
            pid: row
                .runner_pid
                .and_then(|pid| u32::try_from(pid).ok())
                .unwrap_or(0),
            process_group: row
                .step_process_group
                .and_then(|group| i32::try_from(group).ok()),
        }),
    })
}

/// The definition a run was started with, as stored with it.
fn stored_definition(row: &RunRow) -> Result<serde_json::Value> {
    Ok(store::stored_json(
        "automation_runs",
        &row.id,
        "definition",
        &row.definition,
    )?)
}

/// The part of a run's log written before attempt `attempt` started: everything up to the
/// reclaimer's note that queued it again (see `reclaim_lapsed_runs`).
fn earlier_attempts(logs: &str, attempt: i64) -> &str {
    let marker = format!("[plat] queued again as attempt {attempt} ");
    match logs.rfind(&marker) {
        Some(at) => {
            let end = logs[at..].find('\n').map_or(logs.len(), |n| at + n + 1);
            &logs[..end]
        }
        None => "",
    }
}

/// The step records of a run that has not started: every step pending, as JSON.
pub(super) fn pending_steps(definition: &Definition) -> String {
    let steps: Vec<RunStep> = definition
        .plan()
        .iter()
        .map(|s| RunStep {
            id: s.id.clone(),
            action: s.action.clone(),
            status: RunStatus::Pending,
            output: serde_json::Value::Null,
            ..RunStep::default()
        })
        .collect();
    serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into())
}

fn parse_definition(value: serde_json::Value) -> Result<Definition> {
    let definition: Definition = serde_json::from_value(value)
        .map_err(|err| Error::invalid(format!("invalid automation definition: {err}")))?;
    if let Some(problem) = definition.problems().into_iter().next() {
        let mut error = Error::invalid(format!(
            "invalid automation definition: {}",
            problem.message
        ));
        if let Some(hint) = problem.hint {
            error = error.with_hint(hint);
        }
        return Err(error);
    }
    Ok(definition)
}

impl Service {
    fn require_manager(actor: &Actor) -> Result<()> {
        actor.require_role(Role::AutomationManager, "manage automations")?;
        actor.require(Permission::AutomationsWrite)
    }

    async fn automation_row(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<AutomationRow> {
        store::find_automation(conn, &actor.account.id, name)
            .await?
            .ok_or_else(|| {
                Error::not_found("automation", name)
                    .with_hint("run `plat automation list` to see this account's automations")
            })
    }

    async fn run_row(&self, conn: &mut store::Conn, actor: &Actor, id: &str) -> Result<RunRow> {
        store::find_run(conn, &actor.account.id, id)
            .await?
            .ok_or_else(|| {
                Error::not_found("automation run", id)
                    .with_hint("run `plat automation runs` to see this account's runs")
            })
    }

    /// Creates or updates (by name) an automation of the actor's account.
    pub async fn apply_automation(
        &self,
        actor: &Actor,
        req: ApplyAutomation,
    ) -> Result<AutomationApplied> {
        let target = req
            .definition
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.audited(
            actor,
            AuditAction::AutomationApply,
            &target,
            async |tx: &mut store::Conn| self.apply_automation_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn apply_automation_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: ApplyAutomation,
    ) -> Result<AutomationApplied> {
        Self::require_manager(actor)?;
        let definition = parse_definition(req.definition)?;
        let json =
            serde_json::to_string(&definition).map_err(|err| Error::internal(err.to_string()))?;
        let now = self.now();
        let existing =
            store::find_automation(tx, &actor.account.id, &definition.metadata.name).await?;
        let created = existing.is_none();
        let row = match existing {
            Some(mut row) => {
                row.description = definition.metadata.description.clone();
                row.definition = json;
                row.trigger_kind = definition.spec.trigger.summary();
                row.updated_at = now;
                store::update_automation(tx, &row).await?;
                row
            }
            None => {
                let row = AutomationRow {
                    id: store::new_id(),
                    account_id: actor.account.id.clone(),
                    name: definition.metadata.name.clone(),
                    description: definition.metadata.description.clone(),
                    definition: json,
                    trigger_kind: definition.spec.trigger.summary(),
                    owner_user_id: actor.user.id.clone(),
                    created_at: now,
                    updated_at: now,
                    account_slug: actor.account.slug.clone(),
                    owner_email: actor.user.email.clone(),
                };
                store::insert_automation(tx, &row).await?;
                row
            }
        };
        Ok(AutomationApplied {
            automation: automation_view(row)?,
            created,
        })
    }

    pub async fn list_automations(&self, actor: &Actor) -> Result<Vec<Automation>> {
        actor.require(Permission::AutomationsRead)?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_automations(&mut conn, &actor.account.id).await?;
        rows.into_iter().map(automation_view).collect()
    }

    pub async fn get_automation(&self, actor: &Actor, name: &str) -> Result<Automation> {
        actor.require(Permission::AutomationsRead)?;
        let mut conn = self.store.acquire().await?;
        automation_view(self.automation_row(&mut conn, actor, name).await?)
    }

    /// Deletes the definition; its runs stay on record (R-AUT-5).
    pub async fn delete_automation(&self, actor: &Actor, name: &str) -> Result<()> {
        self.audited(
            actor,
            AuditAction::AutomationDelete,
            name,
            async |tx: &mut store::Conn| self.delete_automation_in_tx(tx, actor, name).await,
        )
        .await
    }

    async fn delete_automation_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<()> {
        Self::require_manager(actor)?;
        let row = self.automation_row(tx, actor, name).await?;
        Ok(store::delete_automation(tx, &row.id).await?)
    }

    /// Records a run as `running` for the caller to execute, with the definition it follows.
    pub async fn start_automation_run(
        &self,
        actor: &Actor,
        name: &str,
        req: StartRun,
    ) -> Result<RunStarted> {
        self.audited(
            actor,
            AuditAction::AutomationRun,
            name,
            async |tx: &mut store::Conn| {
                self.start_run_with_id(tx, actor, name, req, store::new_id(), "manual")
                    .await
            },
        )
        .await
    }

    /// Starts a run under a caller-chosen id. Idempotent: when a run of that id exists (the
    /// same queue message delivered again), that run is returned and nothing new starts.
    pub(super) async fn start_run_with_id(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
        req: StartRun,
        id: String,
        triggered_by: &str,
    ) -> Result<RunStarted> {
        actor.require(Permission::AutomationsRun)?;
        if let Some(existing) = store::find_run_by_id(conn, &id).await?
            && existing.account_id == actor.account.id
        {
            return Ok(RunStarted {
                run: run_view(&existing)?,
                definition: stored_definition(&existing)?,
            });
        }
        let automation = self.automation_row(conn, actor, name).await?;
        let definition: Definition = serde_json::from_str(&automation.definition)
            .map_err(|err| Error::internal(format!("stored definition unreadable: {err}")))?;
        let given: BTreeMap<String, String> = req.params;
        let params = definition.resolve_params(&given).map_err(|why| {
            Error::invalid(why).with_hint(format!(
                "pass values with --param NAME=VALUE; `plat automation show {name}` lists the parameters"
            ))
        })?;
        let steps = pending_steps(&definition);
        let now = self.now();
        let runner = req.runner.filter(|_| !req.queue);
        if let Some(runner) = &runner {
            vocabulary::check_text(
                "runner host",
                &runner.host,
                vocabulary::MAX_DISPLAY_NAME_LEN,
            )?;
        }
        let lease_until = runner
            .as_ref()
            .map(|_| self.lease_from_now(LOCAL_RUN_LEASE_SECONDS).1);
        let row = RunRow {
            id,
            account_id: actor.account.id.clone(),
            automation_name: automation.name.clone(),
            definition: automation.definition.clone(),
            owner_user_id: actor.user.id.clone(),
            status: if req.queue {
                RunStatus::Queued
            } else {
                RunStatus::Running
            },
            params: serde_json::Value::Object(params).to_string(),
            steps,
            logs: String::new(),
            error: None,
            cancel_requested: false,
            created_at: now,
            started_at: (!req.queue).then_some(now),
            finished_at: None,
            triggered_by: triggered_by.into(),
            automation_id: Some(automation.id.clone()),
            attempt: 1,
            not_before: None,
            account_slug: actor.account.slug.clone(),
            owner_email: actor.user.email.clone(),
            runner_host: runner.as_ref().map(|r| r.host.clone()),
            runner_pid: runner.as_ref().map(|r| i64::from(r.pid)),
            step_process_group: None,
            lease_until,
        };
        store::insert_run(conn, &row).await?;
        Ok(RunStarted {
            run: run_view(&row)?,
            definition: stored_definition(&row)?,
        })
    }

    /// The executor's report: progress while `running`, the end when the status is final.
    /// A run that already ended is not rewritten.
    pub async fn report_automation_run(
        &self,
        actor: &Actor,
        id: &str,
        report: RunReport,
    ) -> Result<AutomationRun> {
        actor.require(Permission::AutomationsRun)?;
        let known = [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ];
        if !known.contains(&report.status) {
            return Err(Error::invalid(format!(
                "unknown run status '{}'",
                report.status
            )));
        }
        let mut conn = self.store.acquire().await?;
        // Resolved in the actor's account first: a run of another account does not exist for it.
        self.run_row(&mut conn, actor, id).await?;
        drop(conn);
        self.record_run_report(id, report).await
    }

    /// Writes an executor's report; shared by callers' reports and the server's workers.
    pub async fn record_run_report(&self, id: &str, report: RunReport) -> Result<AutomationRun> {
        self.write_run_report(id, None, report).await
    }

    /// A server worker's report, written only while the worker still holds the run: a run
    /// reclaimed after its lease lapsed belongs to its next attempt.
    pub async fn record_worker_report(
        &self,
        id: &str,
        attempt: i64,
        report: RunReport,
    ) -> Result<AutomationRun> {
        self.write_run_report(id, Some(attempt), report).await
    }

    async fn write_run_report(
        &self,
        id: &str,
        attempt: Option<i64>,
        report: RunReport,
    ) -> Result<AutomationRun> {
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        let mut row = store::find_run_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("automation run", id))?;
        if row.status.is_final() {
            return Err(Error::conflict(format!(
                "run {id} has already ended ({})",
                row.status
            )));
        }
        if attempt.is_some_and(|attempt| attempt != row.attempt || row.status != RunStatus::Running)
        {
            return Err(Error::conflict(format!(
                "run {id} was reclaimed from this worker (now attempt {}, {})",
                row.attempt, row.status
            )));
        }
        row.status = report.status;
        row.steps = serde_json::to_string(&report.steps).unwrap_or_else(|_| "[]".into());
        row.logs = match attempt {
            // Earlier attempts' logs and why they were reclaimed stay above this attempt's.
            Some(attempt) => earlier_attempts(&row.logs, attempt).to_owned() + &report.logs,
            None => report.logs,
        };
        row.error = report.error;
        if row.status.is_final() {
            row.finished_at = Some(self.now());
            row.step_process_group = None;
            if row.runner_host.is_some() {
                row.lease_until = None;
            }
        } else if row.runner_host.is_some() {
            // A local runner's report is its heartbeat.
            row.lease_until = Some(self.lease_from_now(LOCAL_RUN_LEASE_SECONDS).1);
            row.step_process_group = report.process_group.map(i64::from);
        }
        store::update_run(&mut tx, &row).await?;
        tx.commit().await?;
        run_view(&row)
    }

    pub async fn get_automation_run(&self, actor: &Actor, id: &str) -> Result<AutomationRun> {
        actor.require(Permission::AutomationsRead)?;
        self.fail_lapsed_local_runs().await?;
        let mut conn = self.store.acquire().await?;
        run_view(&self.run_row(&mut conn, actor, id).await?)
    }

    pub async fn automation_run_logs(&self, actor: &Actor, id: &str) -> Result<RunLogs> {
        actor.require(Permission::AutomationsRead)?;
        self.fail_lapsed_local_runs().await?;
        let mut conn = self.store.acquire().await?;
        let row = self.run_row(&mut conn, actor, id).await?;
        Ok(RunLogs {
            id: row.id,
            status: row.status,
            logs: row.logs,
        })
    }

    pub async fn list_automation_runs(
        &self,
        actor: &Actor,
        automation: Option<&str>,
    ) -> Result<Vec<AutomationRun>> {
        actor.require(Permission::AutomationsRead)?;
        if let Some(name) = automation
            && name.trim().is_empty()
        {
            return Err(Error::not_found("automation", name));
        }
        self.fail_lapsed_local_runs().await?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_runs(&mut conn, &actor.account.id, automation).await?;
        rows.iter().map(run_view).collect()
    }

    pub fn clock(&self) -> super::Clock {
        self.clock.clone()
    }

    /// For a server worker: takes the oldest queued run, with the definition and parameters it
    /// runs with.
    pub async fn claim_queued_run(
        &self,
        lease_seconds: i64,
    ) -> Result<Option<(AutomationRun, Definition)>> {
        let (now, until) = self.lease_from_now(lease_seconds);
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        let Some(id) = store::claim_queued_run(&mut tx, self.store.backend, now, until).await?
        else {
            return Ok(None);
        };
        let claimed = claimed_run(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(Some(claimed))
    }

    /// For a server worker told of a run through RabbitMQ: takes that run if it is still
    /// queued and due. `None` when it is not (another worker took it, it was cancelled, the
    /// announcement came twice).
    pub async fn claim_announced_run(
        &self,
        id: &str,
        lease_seconds: i64,
    ) -> Result<Option<(AutomationRun, Definition)>> {
        let (now, until) = self.lease_from_now(lease_seconds);
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        if !store::claim_run(&mut tx, id, now, until).await? {
            return Ok(None);
        }
        let claimed = claimed_run(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(claimed))
    }

    /// For the server's run relay: marks up to `limit` due runs as announced and returns their
    /// ids, for the relay to publish. See `unannounce_runs` when publishing fails.
    pub async fn announce_due_runs(&self, limit: i64) -> Result<Vec<String>> {
        let now = self.now();
        let mut conn = self.store.acquire().await?;
        if !store::any_run_to_announce(&mut conn, now).await? {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin(&mut conn).await?;
        let ids = store::mark_due_runs_announced(&mut tx, self.store.backend, now, limit).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Takes back announcements the broker never confirmed, so the relay makes them again.
    pub async fn unannounce_runs(&self, ids: &[String]) -> Result<()> {
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        store::unmark_runs_announced(&mut tx, ids).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Fails the runs whose `plat automation run` stopped renewing its lease (R-AUT-5: a run
    /// never stays `running` after its executor is gone). Their exec steps ran on that machine,
    /// so unlike a server worker's runs they are not queued again. Checked whenever runs are
    /// read, so an embedded platform (no background loop) settles them too.
    pub async fn fail_lapsed_local_runs(&self) -> Result<usize> {
        let now = self.now();
        let mut conn = self.store.acquire().await?;
        let lapsed = store::local_runs_with_lapsed_lease(&mut conn, now).await?;
        let mut failed = 0;
        for mut run in lapsed {
            let seen = run.attempt;
            let runner = format!(
                "pid {} on {}",
                run.runner_pid.unwrap_or_default(),
                run.runner_host.as_deref().unwrap_or("?")
            );
            run.logs.push_str(&format!(
                "[plat] the process running this run ({runner}) stopped renewing its lease\n"
            ));
            run.status = RunStatus::Failed;
            run.error = Some(format!(
                "the process running it stopped ({runner}): it was killed or its machine went away"
            ));
            run.finished_at = Some(now);
            if store::reclaim_run(&mut conn, &run, seen).await? {
                failed += 1;
            }
        }
        Ok(failed)
    }

    /// Now, and `lease_seconds` from now, as stored.
    fn lease_from_now(&self, lease_seconds: i64) -> (Timestamp, Timestamp) {
        let now = self.now();
        let until = now
            .checked_add(jiff::SignedDuration::from_secs(lease_seconds))
            .unwrap_or(now);
        (now, until)
    }

    /// For a server worker: whether someone asked to cancel the run it executes.
    pub async fn run_cancel_requested(&self, id: &str) -> Result<bool> {
        let mut conn = self.store.acquire().await?;
        Ok(store::find_run_by_id(&mut conn, id)
            .await?
            .is_some_and(|r| r.cancel_requested))
    }

    /// Asks the run's executor to stop; a queued run is cancelled at once. Idempotent: a run
    /// that has already ended is returned as it is.
    pub async fn cancel_automation_run(&self, actor: &Actor, id: &str) -> Result<AutomationRun> {
        self.fail_lapsed_local_runs().await?;
        self.audited(
            actor,
            AuditAction::AutomationRunCancel,
            id,
            async |tx: &mut store::Conn| self.cancel_automation_run_in_tx(tx, actor, id).await,
        )
        .await
    }

    async fn cancel_automation_run_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        id: &str,
    ) -> Result<AutomationRun> {
        actor.require(Permission::AutomationsRun)?;
        let mut row = self.run_row(tx, actor, id).await?;
        if row.status == RunStatus::Queued {
            row.status = RunStatus::Cancelled;
            row.error = Some("cancelled before it started".into());
            row.finished_at = Some(self.now());
            store::update_run(tx, &row).await?;
        } else if !row.status.is_final() {
            store::request_run_cancel(tx, id).await?;
            row.cancel_requested = true;
        }
        run_view(&row)
    }
}

/// A run a worker has just claimed, with the definition it was frozen with.
async fn claimed_run(conn: &mut store::Conn, id: &str) -> Result<(AutomationRun, Definition)> {
    let row = store::find_run_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::internal("claimed run vanished"))?;
    let definition: Definition = serde_json::from_str(&row.definition)
        .map_err(|err| Error::internal(format!("stored definition unreadable: {err}")))?;
    Ok((run_view(&row)?, definition))
}
