//! The environment lifecycle, written once: find the template, let the platform decide and
//! record (quota, lifetime, lease), run Terraform, record how it ended. `plat env up/down/reap`,
//! the server's reaper and the automation steps `env.up`/`env.down` all go through here, so they
//! cannot drift apart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::api::EnvStatus;
use crate::api::{CreateEnv, Env};
use crate::iac::{self, CancelHandle, IacEvent, Outputs, Template, TemplateCatalog};
use crate::platform::Platform;
use crate::provision::{Provisioner, RunRequest};

/// How long one reaper holds an expired env before another may retry it. One value for the CLI's
/// `plat env reap` and every server replica, so their leases mean the same thing.
pub(crate) const REAP_LEASE_SECONDS: i64 = 15 * 60;

/// Moves an env's Terraform state between the platform and the local file Terraform uses.
/// A server's own runs (reaper, automation workers) keep states in its database; the CLI needs
/// none (a local file embedded, Terraform's `http` backend against a server).
#[async_trait]
pub trait EnvStateKeeper: Send + Sync {
    /// Writes the platform's copy of the state to `path` (or removes `path` when it has none).
    async fn load(&self, env: &Env, path: &Path) -> Result<(), String>;
    /// Hands the state at `path` back to the platform; `None` once the env is destroyed.
    async fn save(&self, env: &Env, path: Option<&Path>) -> Result<(), String>;
}

/// What the lifecycle works with: the platform (acting for the caller), Terraform, templates.
pub(crate) struct EnvLifecycle<'a> {
    pub platform: &'a dyn Platform,
    pub provisioner: Arc<Provisioner>,
    pub templates: Arc<TemplateCatalog>,
    pub states: Option<&'a dyn EnvStateKeeper>,
}

/// `env up` as asked: the template's parameters as given on a command line (`--param k=v`)
/// and/or as typed values (a params file, an automation step's `vars`).
pub(crate) struct UpRequest {
    pub name: String,
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub param_values: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    pub ttl: Option<String>,
    pub idempotency_key: Option<String>,
}

/// An env the platform has recorded, and whether this request recorded it.
pub(crate) struct Started<'a> {
    pub env: Env,
    pub template: &'a Template,
    /// `false` when an earlier request with the same idempotency key made it.
    pub created: bool,
}

/// How a Terraform run ended: the env as the platform now records it, and what only the caller
/// may see (the real outputs, for `::add-mask::`), or why the run failed.
pub(crate) struct Provisioned {
    pub env: Env,
    pub outputs: Result<Outputs, iac::IacError>,
}

pub(crate) enum Down {
    /// No live env of that name: `down` is idempotent.
    Gone,
    Destroyed(Box<Env>),
}

/// What one `reap` did: every expired env it tried, in order.
#[derive(Default)]
pub(crate) struct ReapReport {
    pub reaped: Vec<Env>,
    pub failed: Vec<(Env, String)>,
    /// Requests that expired before anyone provisioned them (R-GOV-2): closed, no Terraform.
    pub expired_requests: Vec<Env>,
}

/// This process's id, beside an env's work dir while it provisions the env (see
/// `adopt_killed_ups`); removed when the run ends, however it ends, unless the process dies.
struct UpMarker(std::path::PathBuf);

impl UpMarker {
    fn write(path: std::path::PathBuf) -> Self {
        if let Some(dir) = path.parent() {
            let _ = crate::private_fs::private_dir(dir);
        }
        // Without the marker a kill is only found by `plat env down`: worth no failed `up`.
        let _ = crate::private_fs::write_private(&path, std::process::id().to_string().as_bytes());
        Self(path)
    }
}

impl Drop for UpMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How often a waiting `up --wait` asks whether its request was decided.
const DECISION_POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl EnvLifecycle<'_> {
    /// Records the env after every check that could refuse it. Terraform has not started, so a
    /// refusal changes nothing (R-ENV-3).
    pub async fn start(&self, request: UpRequest) -> Result<Started<'_>> {
        let template = self.templates.find(&request.template)?;
        self.adopt_killed_ups().await?;
        let params = template.resolve_params(request.params, request.param_values.as_ref())?;
        let ttl_seconds = request
            .ttl
            .as_deref()
            .map(iac::parse_duration)
            .transpose()?
            .map(|ttl| ttl.as_secs());
        let started = self
            .platform
            .start_env(CreateEnv {
                name: request.name,
                template: template.name().to_owned(),
                params: serde_json::to_value(&params)?,
                ttl_seconds,
                idempotency_key: request.idempotency_key,
            })
            .await?;
        Ok(Started {
            env: started.env,
            template,
            created: started.created,
        })
    }

    /// Runs Terraform for an env the platform recorded, then records how it ended. A failed
    /// run keeps its state, so `down` destroys whatever it made.
    pub async fn provision(
        &self,
        env: &Env,
        template: &Template,
        events: Option<mpsc::UnboundedSender<IacEvent>>,
        cancel: &CancelHandle,
    ) -> Result<Provisioned> {
        if awaits_provisioning(env) {
            // R-GOV-2: callers that cannot wait (automation steps) stop here, before Terraform.
            return Err(crate::service::Error::not_approved(format!(
                "environment {} is {}: it needs an approval before it is provisioned",
                env.name, env.status
            ))
            .with_hint(format!(
                "once `plat env approve {}` approved it, `plat env up {}` by its requester provisions it",
                env.name, env.name
            ))
            .into());
        }
        let tenant = self.platform.who_am_i().await?.tenant;
        // Removed when this run ends; left behind, with this pid, if this process is killed.
        let _marker = UpMarker::write(self.provisioner.up_marker_path(env));
        let run = self
            .provisioner
            .up(RunRequest {
                env,
                template,
                tenant: &tenant,
                state: self.platform.state_backend(env),
                events,
                cancel,
            })
            .await;
        if let Some(states) = self.states {
            let state_path = self.provisioner.state_path(env);
            states
                .save(env, Some(&state_path))
                .await
                .map_err(anyhow::Error::msg)?;
        }
        let env = self.platform.finish_env_up(&env.name, run.outcome).await?;
        Ok(Provisioned {
            env,
            outputs: run.result,
        })
    }

    /// Issue 15: an `up` whose plat was killed stays `provisioning` and would count against the
    /// day's quota for good. Found on this machine by its marker (a dead pid, and no Terraform
    /// of it still running), it is recorded as failed, as a failed `up` is: it costs no quota,
    /// and its state stays for `plat env down`.
    async fn adopt_killed_ups(&self) -> Result<()> {
        if !self.provisioner.any_killed_up() {
            return Ok(());
        }
        let me = self.platform.who_am_i().await?.user;
        for env in self.platform.list_envs(false).await? {
            if env.owner != me || env.status != EnvStatus::Provisioning {
                continue;
            }
            let marker = self.provisioner.up_marker_path(&env);
            let Some(pid) = crate::process::read_pid(&marker) else {
                continue;
            };
            if crate::process::alive(pid) || self.provisioner.terraform_running(&env) {
                continue;
            }
            let outcome = crate::api::EnvOutcome {
                succeeded: false,
                outputs: serde_json::Value::Null,
                resources: Vec::new(),
                error: Some(format!(
                    "the plat provisioning it (pid {pid}) was killed before it finished; \
                     `plat env down {}` destroys what Terraform made",
                    env.name
                )),
                log: None,
            };
            self.platform.finish_env_up(&env.name, outcome).await?;
            let _ = std::fs::remove_file(&marker);
        }
        Ok(())
    }

    /// `env up --no-wait`'s second half: provisions an env exactly as it was recorded.
    pub async fn provision_recorded(&self, name: &str, cancel: &CancelHandle) -> Result<Env> {
        let env = self.platform.get_env(name).await?;
        if env.status != EnvStatus::Provisioning {
            anyhow::bail!(
                "environment {name} is {}, not waiting to be provisioned",
                env.status
            );
        }
        let template = self.templates.find(&env.template)?;
        let provisioned = self.provision(&env, template, None, cancel).await?;
        provisioned.outputs?;
        Ok(provisioned.env)
    }

    /// Destroys the live env `name`. The template is found before the env is marked
    /// `destroying`, so a missing one cannot strand it there.
    pub async fn down(
        &self,
        name: &str,
        events: Option<mpsc::UnboundedSender<IacEvent>>,
        cancel: &CancelHandle,
        on_start: &(dyn Fn(&Env) + Sync),
    ) -> Result<Down> {
        let env = match self.platform.get_env(name).await {
            Ok(env) => env,
            Err(err) if err.kind == crate::service::ErrorKind::NotFound => return Ok(Down::Gone),
            Err(err) => return Err(err.into()),
        };
        if env.destroyed_at.is_some() {
            // A rejected or expired request, shown under its name: nothing is live.
            return Ok(Down::Gone);
        }
        let never_provisioned = awaits_provisioning(&env);
        let template = self.templates.find(&env.template)?;
        let Some(env) = self.platform.start_env_down(name).await? else {
            return Ok(Down::Gone);
        };
        on_start(&env);
        if never_provisioned {
            // A withdrawn request: there is nothing for Terraform to destroy.
            let env = self
                .platform
                .finish_env_down(&env.name, crate::api::EnvOutcome::done())
                .await?;
            return Ok(Down::Destroyed(Box::new(env)));
        }
        let destroyed = self
            .destroy(self.platform, &env, template, events, cancel)
            .await?;
        let env = self
            .platform
            .finish_env_down(&env.name, destroyed.outcome)
            .await?;
        destroyed.result?;
        Ok(Down::Destroyed(Box::new(env)))
    }

    /// Destroys every expired env this caller sees (its account and sub-accounts), each leased
    /// so that concurrent reapers never destroy the same env twice. Each env is destroyed and
    /// recorded in its own account; one that fails is reported and left for its lease to lapse,
    /// and the others are still reaped.
    pub async fn reap(
        &self,
        cancel: &CancelHandle,
        on_env: &(dyn Fn(&Env) + Sync),
    ) -> Result<ReapReport> {
        let expired = self.platform.claim_expired_envs(REAP_LEASE_SECONDS).await?;
        let mut report = ReapReport::default();
        for env in expired {
            if env.status == EnvStatus::Expired {
                report.expired_requests.push(env);
                continue;
            }
            on_env(&env);
            match self.reap_one(&env, cancel).await {
                Ok(reaped) => report.reaped.push(reaped),
                Err(err) => report.failed.push((env, format!("{err:#}"))),
            }
        }
        Ok(report)
    }

    /// `up --wait` of an env that needs an approval (R-GOV-2): returns once it is approved, and
    /// fails (exit 6) when it is rejected or its request expires.
    /// `clock` is the caller's (`PLAT_CLOCK_OFFSET`), for a deadline nobody has reaped yet.
    pub async fn wait_for_decision(&self, env: &Env, clock: &crate::service::Clock) -> Result<Env> {
        loop {
            let current = self.platform.get_env(&env.name).await?;
            if current.id != env.id {
                anyhow::bail!(
                    "the request for environment {} ended; another environment took its name",
                    env.name
                );
            }
            match current.status {
                EnvStatus::PendingApproval if past_deadline(&current, clock()) => {
                    // Nobody reaped it yet (no server reaper embedded): it can no longer be approved.
                    let mut expired = current;
                    expired.status = EnvStatus::Expired;
                    return Err(refusal(&expired).into());
                }
                EnvStatus::PendingApproval => {}
                EnvStatus::Rejected | EnvStatus::Expired => return Err(refusal(&current).into()),
                _ => return Ok(current),
            }
            tokio::time::sleep(DECISION_POLL).await;
        }
    }

    async fn reap_one(&self, env: &Env, cancel: &CancelHandle) -> Result<Env> {
        let owner_account = self.platform.in_account(&env.account);
        let template = self.templates.find(&env.template)?;
        let destroyed = self
            .destroy(owner_account.as_ref(), env, template, None, cancel)
            .await?;
        // A failed destroy is not recorded: the lease lapses and a later reap retries it.
        let outcome = destroyed.succeeded()?;
        owner_account
            .finish_env_down(&env.name, outcome)
            .await
            .with_context(|| format!("destroyed {}, but could not record it", env.name))
    }

    /// Terraform `destroy`, on the platform's copy of the state when it keeps one.
    async fn destroy(
        &self,
        platform: &dyn Platform,
        env: &Env,
        template: &Template,
        events: Option<mpsc::UnboundedSender<IacEvent>>,
        cancel: &CancelHandle,
    ) -> Result<crate::provision::Run<()>> {
        let state_path = self.provisioner.state_path(env);
        if let Some(states) = self.states {
            states
                .load(env, &state_path)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        let tenant = platform.who_am_i().await?.tenant;
        let run = self
            .provisioner
            .down(RunRequest {
                env,
                template,
                tenant: &tenant,
                state: platform.state_backend(env),
                events,
                cancel,
            })
            .await;
        if let Some(states) = self.states {
            let remaining = run.result.is_err().then_some(state_path.as_path());
            states
                .save(env, remaining)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        Ok(run)
    }
}

/// An env recorded but never given to Terraform: waiting for, or holding, an approval.
pub(crate) fn awaits_provisioning(env: &Env) -> bool {
    env.status == EnvStatus::PendingApproval || env.status == EnvStatus::Approved
}

/// Whether a pending request's deadline has passed (with a minute's grace for clock skew
/// between this machine and a server).
fn past_deadline(env: &Env, now: jiff::Timestamp) -> bool {
    let Some(deadline) = env.approval.as_ref().map(|a| a.expires_at.as_jiff()) else {
        return false;
    };
    now.as_second() > deadline.as_second() + 60
}

/// A request an approver rejected or nobody decided in time: a policy refusal (exit 6).
fn refusal(env: &Env) -> crate::service::Error {
    let approval = env.approval.as_ref();
    let by = approval
        .and_then(|a| a.decided_by.as_deref())
        .map(|who| format!(" by {who}"))
        .unwrap_or_default();
    let comment = approval
        .and_then(|a| a.comment.as_deref())
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    let message = if env.status == EnvStatus::Rejected {
        format!("environment {} was rejected{by}{comment}", env.name)
    } else {
        format!(
            "the request for environment {} expired before anyone decided",
            env.name
        )
    };
    crate::service::Error::not_approved(message).with_hint(format!(
        "nothing was provisioned; `plat env show {}` shows the decision",
        env.name
    ))
}
