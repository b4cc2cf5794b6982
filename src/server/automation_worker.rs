//! Run workers of `plat server`: take queued runs from the database (several replicas share the
//! queue; see `store::claim_queued_run`), or from RabbitMQ when configured (`run_queue`), and
//! execute them with the same executor the CLI uses.
//! A worker renews its lease on the run while it executes; if the worker dies, the lease lapses
//! and the trigger loop reclaims the run. A worker that finds its run reclaimed stops it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::env_states::DatabaseStates;
use super::metrics::Metrics;
use super::run_queue::{self, Announcement, QUIET_QUEUE_POLL, RunQueue, Subscription};
use crate::api::{AutomationRun, RunReport};
use crate::automation::platform_steps::PlatformSteps;
use crate::automation::{Executor, RunInfo};
use crate::iac::TemplateCatalog;
use crate::ops;
use crate::ops::run::{Renewal, RunHolder, RunWatch};
use crate::platform::LocalPlatform;
use crate::provision::Provisioner;
use crate::scaffold::TemplateSearch;
use crate::service::{Identity, Service};

/// What runs' env.up/env.down/scaffold/scan steps need on a server, shared by every worker.
#[derive(Clone)]
pub struct StepTools {
    /// Why there is none (no Terraform/OpenTofu on this server) matters only to env steps.
    pub provisioner: Result<Arc<Provisioner>, String>,
    pub env_templates: Arc<TemplateCatalog>,
    pub scaffold_roots: Vec<PathBuf>,
    pub data_dir: PathBuf,
}

impl StepTools {
    /// The executor for one run: its steps act on the platform as the run's owner, in the
    /// run's account, so the owner's quota and permissions apply as on the command line.
    fn executor_for(&self, base: &Executor, service: &Service, run: &AutomationRun) -> Executor {
        let platform = LocalPlatform::new(
            service.clone(),
            Identity::Email(run.owner.clone()),
            Some(run.account.clone()),
        )
        .with_source("server automation worker");
        base.clone().with_actions(Arc::new(PlatformSteps {
            platform: Arc::new(platform),
            provisioner: self.provisioner.clone(),
            env_templates: self.env_templates.clone(),
            scaffold_templates: TemplateSearch::new(self.scaffold_roots.clone()),
            data_dir: self.data_dir.clone(),
            state_keeper: Some(Arc::new(DatabaseStates::new(service.clone()))),
        }))
    }
}

const IDLE_POLL: Duration = Duration::from_millis(250);

/// Takes queued runs and executes them, one at a time, until the process ends: from RabbitMQ
/// announcements when `queue` is set (and from the database whenever the queue is quiet or the
/// broker away), else from the database alone.
pub async fn run_forever(
    service: Service,
    worker: usize,
    settings: WorkerSettings,
    queue: Option<RunQueue>,
) {
    let executor = match Executor::new(service.clock()) {
        Ok(executor) => executor.with_environment((*settings.environment).clone()),
        Err(err) => {
            tracing::error!(worker, error = %err, "automation worker cannot start");
            return;
        }
    };
    let lease_seconds = i64::try_from(settings.lease.as_secs())
        .unwrap_or(i64::MAX)
        .max(1);
    let mut subscription = queue.map(Subscription::new);
    loop {
        let (claimed, via) = match subscription.as_mut() {
            None => (service.claim_queued_run(lease_seconds).await, Via::Database),
            Some(subscription) => match subscription.next(worker, QUIET_QUEUE_POLL).await {
                Announcement::Run(id, delivery) => {
                    let claimed = service.claim_announced_run(&id, lease_seconds).await;
                    match &claimed {
                        Ok(_) => run_queue::settle(&delivery).await,
                        Err(_) => run_queue::give_back(&delivery).await,
                    }
                    (claimed, Via::RabbitMq)
                }
                Announcement::Quiet => {
                    (service.claim_queued_run(lease_seconds).await, Via::Database)
                }
            },
        };
        match claimed {
            Ok(Some((run, definition))) => {
                tracing::info!(worker, run = %run.id, automation = %run.automation, attempt = run.attempt, via = via.label(), "running queued automation");
                settings.metrics.run_claimed(via.label());
                let held = LeasedRun {
                    service: &service,
                    id: &run.id,
                    attempt: run.attempt,
                    lease_seconds,
                };
                let executor = settings.tools.executor_for(&executor, &service, &run);
                ops::run::supervise(
                    &held,
                    &mut Unwatched,
                    &executor,
                    &RunInfo::of(&run),
                    &definition,
                    &run.params,
                )
                .await;
            }
            // Announced but already taken, cancelled or seen twice: the next one.
            Ok(None) if via == Via::RabbitMq => {}
            Ok(None) => tokio::time::sleep(IDLE_POLL).await,
            Err(err) => {
                tracing::warn!(worker, error = %err.message, "cannot claim a queued run");
                tokio::time::sleep(IDLE_POLL * 4).await;
            }
        }
    }
}

/// What every worker of a replica shares.
#[derive(Clone)]
pub struct WorkerSettings {
    /// How long a worker holds a run without renewing it.
    pub lease: Duration,
    pub tools: StepTools,
    /// The server's environment, where runners' `secret_env` secrets are looked up.
    pub environment: Arc<std::collections::BTreeMap<String, String>>,
    pub metrics: Arc<Metrics>,
}

/// How a worker learnt of the run it took.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Database,
    RabbitMq,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::RabbitMq => "rabbitmq",
        }
    }
}

/// Nobody watches a worker's run as it executes; its record is what people follow.
struct Unwatched;

impl RunWatch for Unwatched {}

/// The run a worker holds under a lease, renewed while it executes.
struct LeasedRun<'a> {
    service: &'a Service,
    id: &'a str,
    attempt: i64,
    lease_seconds: i64,
}

#[async_trait::async_trait]
impl RunHolder for LeasedRun<'_> {
    fn renew_every(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.lease_seconds).unwrap_or(1)) / 3
    }

    async fn report(&self, report: RunReport) -> Result<AutomationRun, String> {
        self.service
            .record_worker_report(self.id, self.attempt, report)
            .await
            .map_err(|err| {
                tracing::warn!(run = %self.id, error = %err.message, "cannot record the run's progress");
                err.message
            })
    }

    async fn cancel_requested(&self) -> bool {
        self.service
            .run_cancel_requested(self.id)
            .await
            .unwrap_or(false)
    }

    async fn renew(&self, _progress: RunReport) -> Renewal {
        // A failed renewal (database away) is retried next time; a refused one means the run
        // was reclaimed: it stops here, and its next attempt runs elsewhere.
        match self
            .service
            .renew_run_lease(self.id, self.attempt, self.lease_seconds)
            .await
        {
            Ok(true) => Renewal::Held,
            Ok(false) => {
                tracing::warn!(run = %self.id, attempt = self.attempt, "run reclaimed from this worker; stopping it");
                Renewal::Lost
            }
            Err(_) => Renewal::Unknown,
        }
    }
}
