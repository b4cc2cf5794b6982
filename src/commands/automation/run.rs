use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc;

use crate::api::{AutomationRun, RunReport, StartRun};
use crate::automation::platform_steps::PlatformSteps;
use crate::automation::progress::{LOG_FLUSH, RunProgress, tail};
use crate::automation::{CancelSignal, Definition, Executor, RunEvent, RunInfo, status};
use crate::cli::AutomationRunArgs;
use crate::ctx::Ctx;
use crate::error::{Cancelled, RunFailed, UserError};
use crate::platform::Platform;
use crate::scaffold::TemplateSearch;

/// How often the executor asks whether someone ran `plat automation cancel`.
const CANCEL_POLL: Duration = Duration::from_millis(300);

pub async fn run(ctx: &Ctx, args: AutomationRunArgs) -> Result<()> {
    if args.detach && ctx.context.server.is_none() {
        return Err(UserError::new(
            "--detach needs a plat server, whose workers take queued runs; an embedded platform runs automations in-process",
            "drop --detach: `plat automation run NAME` runs the automation here and waits for it",
        )
        .into());
    }
    let platform = ctx.platform().await?;
    let started = platform
        .start_automation_run(
            &args.name,
            StartRun {
                params: args.params.into_iter().collect(),
                queue: args.detach,
            },
        )
        .await?;
    if args.detach {
        ctx.out.status(
            "Queued",
            &format!(
                "automation {} (run {}); follow it with `plat automation logs {} -f`",
                args.name, started.run.id, started.run.id
            ),
        );
        return ctx.out.object(&started.run);
    }
    let run_id = started.run.id.clone();
    let definition: Definition = serde_json::from_value(started.definition)?;
    ctx.out.status(
        "Running",
        &format!("automation {} (run {run_id})", args.name),
    );
    let executor = executor(ctx).await?;
    let run = RunInfo::of(&started.run);
    let (cancel_tx, cancel) = CancelSignal::new();
    let (events_tx, events) = mpsc::unbounded_channel();
    let execution = executor.run_for(&run, &definition, &started.run.params, cancel, events_tx);
    let follow = follow(ctx, platform, &run_id, events, cancel_tx);
    let (result, interrupted) = tokio::join!(execution, follow);

    let run = platform
        .report_automation_run(
            &run_id,
            RunReport {
                status: result.status.clone(),
                steps: result.steps,
                logs: tail(result.logs),
                error: result.error.clone(),
            },
        )
        .await?;
    finish(ctx, &run, interrupted)
}

/// The executor acts on the platform as the caller, who owns the run, and signs webhooks with
/// secrets from this process's environment.
async fn executor(ctx: &Ctx) -> Result<Executor> {
    let steps = PlatformSteps {
        platform: ctx.shared_platform().await?.clone(),
        provisioner: ctx
            .provisioner()
            .await
            .map(Arc::new)
            .map_err(|err| format!("{err:#}")),
        env_templates: ctx.env_templates()?,
        scaffold_templates: TemplateSearch::new(ctx.template_roots("scaffold")),
        data_dir: ctx.dirs.data.clone(),
        state_keeper: None,
    };
    Ok(Executor::new(ctx.clock()?)
        .map_err(anyhow::Error::msg)?
        .with_environment(ctx.env.vars.clone())
        .with_actions(Arc::new(steps)))
}

/// Shows progress, reports each step to the platform, and turns `cancel` requests and Ctrl-C
/// into the cancel signal. Log lines that arrive during a step (a Job's pod log) are recorded
/// every `LOG_FLUSH`, so `plat automation logs -f` elsewhere sees them as they come. Returns
/// whether Ctrl-C was pressed.
async fn follow(
    ctx: &Ctx,
    platform: &dyn Platform,
    run_id: &str,
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    cancel: tokio::sync::watch::Sender<bool>,
) -> bool {
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + CANCEL_POLL, CANCEL_POLL);
    let mut flush = tokio::time::interval_at(tokio::time::Instant::now() + LOG_FLUSH, LOG_FLUSH);
    let mut interrupted = false;
    let mut progress = RunProgress::default();
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                match event {
                    RunEvent::Log(line) => {
                        ctx.out.info(&format!("  {line}"));
                        progress.add_line(&line);
                    }
                    RunEvent::StepStarted { index, steps, logs } => {
                        let step = &steps[index];
                        ctx.out.status("Step", &format!("{} ({})", step.id, step.action));
                        progress.replace(steps, logs);
                        record(ctx, platform, run_id, &mut progress).await;
                    }
                    RunEvent::StepFinished { steps, logs, .. } => {
                        progress.replace(steps, logs);
                        record(ctx, platform, run_id, &mut progress).await;
                    }
                }
            }
            _ = flush.tick() => {
                if progress.unrecorded() {
                    record(ctx, platform, run_id, &mut progress).await;
                }
            }
            _ = poll.tick() => {
                if let Ok(run) = platform.get_automation_run(run_id).await
                    && run.cancel_requested
                {
                    let _ = cancel.send(true);
                }
            }
            signal = tokio::signal::ctrl_c(), if !interrupted => {
                if signal.is_ok() {
                    interrupted = true;
                    ctx.out.warn("interrupted: stopping the running step");
                    let _ = cancel.send(true);
                }
            }
        }
    }
    interrupted
}

async fn record(ctx: &Ctx, platform: &dyn Platform, run_id: &str, progress: &mut RunProgress) {
    if let Err(err) = platform
        .report_automation_run(run_id, progress.report())
        .await
    {
        ctx.out
            .warn(&format!("could not record progress of run {run_id}: {err}"));
    }
}

fn finish(ctx: &Ctx, run: &AutomationRun, interrupted: bool) -> Result<()> {
    let elapsed = match (&run.started_at, &run.finished_at) {
        (Some(start), Some(end)) => match (
            start.parse::<jiff::Timestamp>(),
            end.parse::<jiff::Timestamp>(),
        ) {
            (Ok(start), Ok(end)) => format!(" in {}s", end.as_second() - start.as_second()),
            _ => String::new(),
        },
        _ => String::new(),
    };
    match run.status.as_str() {
        status::SUCCEEDED => {
            ctx.out.status(
                "Succeeded",
                &format!("automation {} (run {}){elapsed}", run.automation, run.id),
            );
            ctx.out.object(run)
        }
        _ => {
            ctx.out.object(run)?;
            if interrupted {
                return Err(Cancelled(format!("run {} cancelled", run.id)).into());
            }
            let why = run.error.clone().unwrap_or_else(|| run.status.clone());
            Err(RunFailed {
                message: format!(
                    "run {} of automation {} {}: {why}",
                    run.id, run.automation, run.status
                ),
                hint: format!("`plat automation logs {}` prints the run's log", run.id),
            }
            .into())
        }
    }
}
