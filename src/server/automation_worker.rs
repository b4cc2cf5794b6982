//! Run workers of `plat server`: take queued runs from the database (several replicas share the
//! queue; see `store::claim_queued_run`) and execute them with the same executor the CLI uses.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::api::RunReport;
use crate::automation::{CancelSignal, Executor, RunEvent, status};
use crate::service::Service;

/// How long a claimed run is held; a worker that dies leaves it to be seen as stale after this.
const LEASE_SECONDS: i64 = 15 * 60;
const IDLE_POLL: Duration = Duration::from_millis(250);
const CANCEL_POLL: Duration = Duration::from_millis(300);

pub async fn run_forever(service: Service, worker: usize) {
    let executor = match Executor::new(service.clock()) {
        Ok(executor) => executor,
        Err(err) => {
            tracing::error!(worker, error = %err, "automation worker cannot start");
            return;
        }
    };
    loop {
        match service.claim_queued_run(LEASE_SECONDS).await {
            Ok(Some((run, definition))) => {
                tracing::info!(worker, run = %run.id, automation = %run.automation, "running queued automation");
                execute(&service, &executor, &run.id, &definition, &run.params).await;
            }
            Ok(None) => tokio::time::sleep(IDLE_POLL).await,
            Err(err) => {
                tracing::warn!(worker, error = %err.message, "cannot claim a queued run");
                tokio::time::sleep(IDLE_POLL * 4).await;
            }
        }
    }
}

async fn execute(
    service: &Service,
    executor: &Executor,
    id: &str,
    definition: &crate::automation::Definition,
    params: &serde_json::Value,
) {
    let (cancel_tx, cancel) = CancelSignal::new();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let execution = executor.run(definition, params, cancel, events_tx);
    let follow = async {
        let mut poll =
            tokio::time::interval_at(tokio::time::Instant::now() + CANCEL_POLL, CANCEL_POLL);
        loop {
            tokio::select! {
                event = events.recv() => {
                    let (steps, logs) = match event {
                        None => break,
                        Some(RunEvent::Log(_)) => continue,
                        Some(RunEvent::StepStarted { steps, logs, .. } | RunEvent::StepFinished { steps, logs, .. }) => (steps, logs),
                    };
                    let report = RunReport { status: status::RUNNING.into(), steps, logs, error: None };
                    if let Err(err) = service.record_run_report(id, report).await {
                        tracing::warn!(run = %id, error = %err.message, "cannot record run progress");
                    }
                }
                _ = poll.tick() => {
                    if service.run_cancel_requested(id).await.unwrap_or(false) {
                        let _ = cancel_tx.send(true);
                    }
                }
            }
        }
    };
    let (result, ()) = tokio::join!(execution, follow);
    let report = RunReport {
        status: result.status,
        steps: result.steps,
        logs: result.logs,
        error: result.error,
    };
    if let Err(err) = service.record_run_report(id, report).await {
        tracing::warn!(run = %id, error = %err.message, "cannot record the end of a run");
    }
}
