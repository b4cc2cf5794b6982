//! Triggers that `plat server` runs by itself (R-AUT-3): schedules, constant automations and
//! signed webhooks, plus the reclaiming of runs whose worker died. Every replica of a server
//! calls these; the database decides which replica's write counts, so a schedule tick fires
//! once, a constant automation has one active run, and a lapsed run is reclaimed once.
//!
//! Runs started here belong to the automation's owner in the automation's account, and record
//! what started them (`triggered_by`).

use std::collections::{BTreeMap, HashMap};

use crate::api::Timestamp;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::automations::{pending_steps, run_view};
use super::{Error, Result, Service};
use crate::api::AutomationRun;
use crate::api::RunStatus;
use crate::automation::Definition;
use crate::automation::cron::Schedule;
use crate::automation::definition::{Trigger, WEBHOOK_EVENT_PARAM, WebhookTrigger};
use crate::store::{self, AutomationRow, RunRow};

#[cfg(feature = "server")]
/// The header a webhook caller signs its body in, GitHub's way: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-plat-signature-256";

/// A constant automation that keeps failing waits this long after its first failure, twice as
/// long after each further one, up to `CONSTANT_BACKOFF_MAX_SECONDS`.
const CONSTANT_BACKOFF_BASE_SECONDS: i64 = 1;
const CONSTANT_BACKOFF_MAX_SECONDS: i64 = 300;

/// Failed runs counted for the back-off; more than this waits the maximum anyway.
const BACKOFF_WINDOW: i64 = 10;

fn stored_definition(automation: &AutomationRow) -> Result<Definition> {
    serde_json::from_str(&automation.definition).map_err(|err| {
        Error::internal(format!(
            "stored definition of '{}' unreadable: {err}",
            automation.name
        ))
    })
}

/// The wait before the next run of a constant automation whose latest `failures` runs failed:
/// 1 s, 2 s, 4 s … up to 5 min, each drawn between half and all of its step, so automations
/// that failed together (a dependency down) do not all run again at the same second.
pub fn constant_backoff_seconds(failures: usize) -> i64 {
    if failures == 0 {
        return 0;
    }
    let schedule = crate::backoff::Backoff::new(
        std::time::Duration::from_secs(CONSTANT_BACKOFF_BASE_SECONDS.unsigned_abs()),
        std::time::Duration::from_secs(CONSTANT_BACKOFF_MAX_SECONDS.unsigned_abs()),
    );
    let step = schedule.ceiling(u32::try_from(failures - 1).unwrap_or(u32::MAX));
    let wait = crate::backoff::jittered(step).as_secs_f64().ceil();
    // Whole seconds, at least one: the next run is recorded to the second.
    (wait as i64).max(1)
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared
/// in constant time.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn rejected_webhook() -> Error {
    Error::unauthenticated("webhook signature missing or wrong").with_hint(
        "POST to /api/v1/automations/NAME/webhook?account=SLUG with `X-Plat-Signature-256: sha256=<hex HMAC-SHA256 of the body>` under the secret named by the automation's `secret_env`",
    )
}

impl Service {
    /// A queued run of `automation` for a trigger, as its owner, with the definition's
    /// defaults (and a webhook's payload as `event`). A definition whose parameters cannot be
    /// filled in gives a run that has failed already, saying why: the trigger did fire.
    fn unattended_run(
        &self,
        automation: &AutomationRow,
        definition: &Definition,
        trigger: &str,
        event: Option<Value>,
    ) -> RunRow {
        let declares_event = definition
            .spec
            .parameters
            .iter()
            .any(|p| p.name == WEBHOOK_EVENT_PARAM);
        let mut given = BTreeMap::new();
        if let (Some(event), true) = (&event, declares_event) {
            given.insert(WEBHOOK_EVENT_PARAM.to_owned(), event.to_string());
        }
        let now = self.now();
        let (status, params, error, finished_at) = match definition.resolve_params(&given) {
            Ok(mut params) => {
                if let Some(event) = event {
                    params.insert(WEBHOOK_EVENT_PARAM.to_owned(), event);
                }
                (RunStatus::Queued, Value::Object(params), None, None)
            }
            Err(why) => (
                RunStatus::Failed,
                Value::Object(Default::default()),
                Some(format!(
                    "the {trigger} trigger could not start a run: {why}"
                )),
                Some(now),
            ),
        };
        RunRow {
            id: store::new_id(),
            account_id: automation.account_id.clone(),
            automation_name: automation.name.clone(),
            definition: automation.definition.clone(),
            owner_user_id: automation.owner_user_id.clone(),
            status,
            params: params.to_string(),
            steps: pending_steps(definition),
            logs: String::new(),
            error,
            cancel_requested: false,
            created_at: now,
            started_at: None,
            finished_at,
            triggered_by: trigger.into(),
            automation_id: Some(automation.id.clone()),
            attempt: 1,
            not_before: None,
            account_slug: automation.account_slug.clone(),
            owner_email: automation.owner_email.clone(),
            runner_host: None,
            runner_pid: None,
            step_process_group: None,
            lease_until: None,
        }
    }

    /// One scheduler round: fires the latest due tick of every schedule (at most one per
    /// automation, so a server that was down fires one catch-up run, not the backlog) and
    /// queues the next run of every constant automation that has none active. `fired` remembers
    /// the ticks this replica saw fired, so a tick costs one database write per replica.
    pub async fn run_triggers(&self, fired: &mut HashMap<String, Timestamp>) -> Result<usize> {
        let now = (self.clock)();
        let automations = {
            let mut conn = self.store.acquire().await?;
            store::list_self_triggered_automations(&mut conn).await?
        };
        let mut started = 0;
        for automation in automations {
            let definition = match stored_definition(&automation) {
                Ok(definition) => definition,
                Err(err) => {
                    tracing::warn!(automation = %automation.name, error = %err.message, "trigger skipped");
                    continue;
                }
            };
            let queued = match &definition.spec.trigger {
                Trigger::Schedule(schedule) => {
                    let Ok(schedule) = Schedule::new(&schedule.cron, &schedule.timezone) else {
                        continue;
                    };
                    let Some(tick) = schedule.latest_tick(now) else {
                        continue;
                    };
                    let tick = Timestamp::from_jiff(tick);
                    // Ticks before the definition was applied belong to no definition of it.
                    if tick < automation.updated_at
                        || fired.get(&automation.id).is_some_and(|seen| *seen >= tick)
                    {
                        continue;
                    }
                    let queued = self.fire_tick(&automation, &definition, tick).await;
                    if queued.is_ok() {
                        fired.insert(automation.id.clone(), tick);
                    }
                    queued
                }
                Trigger::Constant => self.keep_constant(&automation, &definition).await,
                _ => Ok(false),
            };
            // One automation's failure (a lost connection, a lock timeout) is retried next
            // round and does not hold up the others.
            match queued {
                Ok(queued) => started += usize::from(queued),
                Err(err) => {
                    tracing::warn!(automation = %automation.name, account = %automation.account_slug, error = %err.message, "trigger could not queue a run");
                }
            }
        }
        Ok(started)
    }

    /// Records the tick and queues its run in one transaction: only the replica whose tick
    /// insert lands queues a run.
    async fn fire_tick(
        &self,
        automation: &AutomationRow,
        definition: &Definition,
        tick: Timestamp,
    ) -> Result<bool> {
        let run = self.unattended_run(automation, definition, "schedule", None);
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        if !store::insert_tick(&mut tx, &automation.id, tick, &run.id).await? {
            return Ok(false);
        }
        store::insert_run(&mut tx, &run).await?;
        tx.commit().await?;
        tracing::info!(automation = %automation.name, account = %automation.account_slug, %tick, run = %run.id, "schedule fired");
        Ok(true)
    }

    /// Queues the next run of a constant automation unless one is active; after failures the
    /// run waits (`not_before`) with exponential back-off. The unique index on active constant
    /// runs keeps it to one across replicas.
    async fn keep_constant(
        &self,
        automation: &AutomationRow,
        definition: &Definition,
    ) -> Result<bool> {
        let mut conn = self.store.acquire().await?;
        let latest =
            store::latest_run_statuses(&mut conn, &automation.id, "constant", BACKOFF_WINDOW)
                .await?;
        if latest.first().is_some_and(|(s, _)| !s.is_final()) {
            return Ok(false);
        }
        let failures = latest
            .iter()
            .take_while(|(s, _)| *s == RunStatus::Failed)
            .count();
        let mut run = self.unattended_run(automation, definition, "constant", None);
        let wait = constant_backoff_seconds(failures);
        if wait > 0 {
            let last_end = latest
                .first()
                .and_then(|(_, end)| *end)
                .unwrap_or_else(|| self.now());
            run.not_before = Some(
                last_end
                    .checked_add(jiff::SignedDuration::from_secs(wait))
                    .unwrap_or(last_end),
            );
        }
        Ok(store::insert_run_unless_active(&mut conn, &run).await?)
    }

    /// Reclaims runs whose worker's lease lapsed (the worker died, e.g. its server was killed):
    /// queued again under the same id as the next attempt, or failed for good once
    /// `max_attempts` workers have taken it. Never left `running` forever.
    pub async fn reclaim_lapsed_runs(&self, max_attempts: i64) -> Result<usize> {
        let mut reclaimed = self.fail_lapsed_local_runs().await?;
        let now = self.now();
        let mut conn = self.store.acquire().await?;
        let lapsed = store::runs_with_lapsed_lease(&mut conn, now).await?;
        for mut run in lapsed {
            let seen = run.attempt;
            run.logs.push_str(&format!(
                "[plat] attempt {seen}: the worker stopped renewing its lease (it died or lost the database)\n"
            ));
            // A run whose frozen definition no longer reads cannot run again: it is failed.
            let definition = serde_json::from_str::<Definition>(&run.definition);
            if let (true, Ok(definition)) = (seen < max_attempts, &definition) {
                run.status = RunStatus::Queued;
                run.attempt = seen + 1;
                run.steps = pending_steps(definition);
                run.started_at = None;
                run.error = None;
                run.logs.push_str(&format!(
                    "[plat] queued again as attempt {} of {max_attempts}\n",
                    run.attempt
                ));
            } else {
                run.status = RunStatus::Failed;
                run.error = Some(match definition {
                    Err(err) => format!(
                        "the worker running this run stopped, and its definition cannot be read to run it again: {err}"
                    ),
                    Ok(_) => format!(
                        "the worker running this run stopped {seen} time(s) (server killed or restarted); gave up after {max_attempts} attempt(s)"
                    ),
                });
                run.finished_at = Some(now);
            }
            if store::reclaim_run(&mut conn, &run, seen).await? {
                tracing::warn!(run = %run.id, automation = %run.automation_name, attempt = seen, status = %run.status, "reclaimed a run whose worker lease lapsed");
                reclaimed += 1;
            }
        }
        Ok(reclaimed)
    }

    /// For a server worker: keeps holding the run it executes. `false` when the run was taken
    /// from it (reclaimed after a lapse, or ended): the worker must stop and report nothing.
    pub async fn renew_run_lease(
        &self,
        id: &str,
        attempt: i64,
        lease_seconds: i64,
    ) -> Result<bool> {
        let now = self.now();
        let until = now
            .checked_add(jiff::SignedDuration::from_secs(lease_seconds))
            .unwrap_or(now);
        let mut conn = self.store.acquire().await?;
        Ok(store::renew_run_lease(&mut conn, id, attempt, until).await?)
    }

    /// An incoming webhook: queues a run of the automation `name` of account `account` when the
    /// body is signed with the automation's secret (looked up in `secrets` under its
    /// `secret_env`). Every refusal looks the same to the caller, so the endpoint tells a
    /// stranger nothing about which automations exist; the server log says what was wrong.
    pub async fn fire_webhook(
        &self,
        account: Option<&str>,
        name: &str,
        signature: Option<&str>,
        body: &[u8],
        secrets: &BTreeMap<String, String>,
    ) -> Result<AutomationRun> {
        let Some(account) = account else {
            tracing::warn!(automation = name, "webhook without ?account=");
            return Err(rejected_webhook());
        };
        let mut conn = self.store.acquire().await?;
        let automation = store::find_automation_by_account_slug(&mut conn, account, name)
            .await?
            .ok_or_else(|| {
                tracing::warn!(
                    account,
                    automation = name,
                    "webhook for an unknown automation"
                );
                rejected_webhook()
            })?;
        let definition = stored_definition(&automation)?;
        let Trigger::Webhook(WebhookTrigger { secret_env }) = &definition.spec.trigger else {
            tracing::warn!(
                account,
                automation = name,
                "webhook for an automation without a webhook trigger"
            );
            return Err(rejected_webhook());
        };
        let secret = secret_env
            .as_deref()
            .and_then(|env| secrets.get(env))
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                tracing::warn!(account, automation = name, secret_env = ?secret_env, "webhook secret not set on this server");
                rejected_webhook()
            })?;
        if !signature.is_some_and(|sig| signature_matches(secret.as_bytes(), body, sig)) {
            tracing::warn!(account, automation = name, "webhook signature rejected");
            return Err(rejected_webhook());
        }
        let event = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        let run = self.unattended_run(&automation, &definition, "webhook", Some(event));
        store::insert_run(&mut conn, &run).await?;
        run_view(&run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_github_style_hmac_sha256() {
        // The example of GitHub's webhook documentation.
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(secret, body, good));
        assert!(!signature_matches(secret, b"Hello, World?", good));
        assert!(!signature_matches(b"another secret", body, good));
        assert!(!signature_matches(
            secret,
            body,
            &good.replace("sha256=", "sha1=")
        ));
        assert!(!signature_matches(secret, body, "sha256=zz"));
        assert!(!signature_matches(secret, body, ""));
    }

    #[test]
    fn constant_back_off_doubles_up_to_five_minutes_with_jitter() {
        assert_eq!(constant_backoff_seconds(0), 0);
        for (failures, step) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (12, 300)] {
            let wait = constant_backoff_seconds(failures);
            assert!(
                (step / 2).max(1) <= wait && wait <= step,
                "{failures} failures: {wait}s outside ({}..={step})",
                step / 2
            );
        }
        assert!(constant_backoff_seconds(usize::MAX) <= 300);
    }
}
