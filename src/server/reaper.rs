//! The server's reaper (R-ENV-1, R-ENV-4): destroys expired environments in the background.
//! Safe with several replicas: each env is leased to one reaper at a time through the database
//! (`service::claim_expired_envs`), and a failed attempt simply lets its lease lapse, so the next
//! round retries it with the lease as back-off.

use std::sync::Arc;
use std::time::Duration;

use super::env_states::DatabaseStates;
use crate::api::EnvOutcome;
use crate::automation::platform_steps::EnvStateKeeper;
use crate::iac::{CancelHandle, TemplateCatalog};
use crate::provision::{Provisioner, RunRequest};
use crate::service::{Identity, Service};

/// How long one reaper may take over one env before another may try again.
const LEASE_SECONDS: i64 = 10 * 60;

/// What the reaper needs besides the platform: Terraform, the templates, and its pace.
pub struct ReaperConfig {
    pub provisioner: Arc<Provisioner>,
    pub templates: Arc<TemplateCatalog>,
    pub every: Duration,
}

pub struct Reaper {
    service: Service,
    provisioner: Arc<Provisioner>,
    templates: Arc<TemplateCatalog>,
    /// Terraform here works on a local copy of the state the platform keeps.
    states: DatabaseStates,
    every: Duration,
}

impl Reaper {
    pub fn new(service: Service, config: ReaperConfig) -> Self {
        Self {
            states: DatabaseStates::new(service.clone()),
            service,
            provisioner: config.provisioner,
            templates: config.templates,
            every: config.every,
        }
    }

    pub async fn run_forever(self) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tick.tick().await;
            if let Err(err) = self.round().await {
                tracing::warn!(error = %err, "reaper round failed");
            }
        }
    }

    /// One pass: claim what has expired, destroy it, record it.
    pub async fn round(&self) -> crate::service::Result<usize> {
        let operator = self
            .service
            .resolve_actor(&Identity::Operator, None, None)
            .await?;
        let expired = self
            .service
            .claim_expired_envs(&operator, LEASE_SECONDS)
            .await?;
        let mut reaped = 0;
        for env in expired {
            let actor = self
                .service
                .resolve_actor(&Identity::Operator, Some(&env.account), None)
                .await?;
            match self.destroy(&env).await {
                Ok(outcome) => {
                    self.service
                        .finish_env_down(&actor, &env.name, outcome)
                        .await?;
                    self.states
                        .save(&env, None)
                        .await
                        .map_err(crate::service::Error::internal)?;
                    tracing::info!(env = %env.name, account = %env.account, "reaped expired environment");
                    reaped += 1;
                }
                Err(err) => {
                    tracing::warn!(env = %env.name, account = %env.account, error = %err, "could not destroy expired environment; will retry");
                }
            }
        }
        Ok(reaped)
    }

    /// Runs `destroy` here on a local copy of the state the platform keeps.
    async fn destroy(&self, env: &crate::api::Env) -> anyhow::Result<EnvOutcome> {
        let template = self.templates.find(&env.template)?;
        self.states
            .load(env, &self.provisioner.state_path(env))
            .await
            .map_err(anyhow::Error::msg)?;
        let cancel = CancelHandle::new();
        let run = self
            .provisioner
            .down(RunRequest {
                env,
                template,
                tenant: "",
                state: None,
                events: None,
                cancel: &cancel,
            })
            .await;
        Ok(run.succeeded()?)
    }
}
