//! The server's reaper (R-ENV-1, R-ENV-4): destroys expired environments in the background,
//! through the same lifecycle as `plat env reap` (`ops::env`). Safe with several replicas: each
//! env is leased to one reaper at a time through the database, and a failed attempt simply lets
//! its lease lapse, so the next round retries it with the lease as back-off.

use std::sync::Arc;
use std::time::Duration;

use super::env_states::DatabaseStates;
use crate::iac::{CancelHandle, TemplateCatalog};
use crate::ops::env::EnvLifecycle;
use crate::platform::LocalPlatform;
use crate::provision::Provisioner;
use crate::service::{Identity, Service};

/// What the reaper needs besides the platform: Terraform, the templates, and its pace.
pub struct ReaperConfig {
    pub provisioner: Arc<Provisioner>,
    pub templates: Arc<TemplateCatalog>,
    pub every: Duration,
}

pub struct Reaper {
    /// The platform's operator: it sees every account, and acts in each env's own.
    platform: LocalPlatform,
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
            platform: LocalPlatform::new(service, Identity::Operator, None)
                .with_source("server reaper"),
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
                tracing::warn!(error = %format!("{err:#}"), "reaper round failed");
            }
        }
    }

    /// One pass: claim what has expired, destroy it, record it. Returns how many were reaped.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let lifecycle = EnvLifecycle {
            platform: &self.platform,
            provisioner: self.provisioner.clone(),
            templates: self.templates.clone(),
            states: Some(&self.states),
        };
        let report = lifecycle.reap(&CancelHandle::new(), &|_| {}).await?;
        for env in &report.reaped {
            tracing::info!(env = %env.name, account = %env.account, "reaped expired environment");
        }
        for (env, error) in &report.failed {
            tracing::warn!(env = %env.name, account = %env.account, error = %error, "could not destroy expired environment; will retry");
        }
        Ok(report.reaped.len())
    }
}
