use std::sync::Arc;

use anyhow::Result;

use crate::api::RunStatus;
use crate::api::{AutomationRun, StartRun};
use crate::automation::platform_steps::PlatformSteps;
use crate::automation::{Definition, Executor, RunEvent, RunInfo};
use crate::cli::AutomationRunArgs;
use crate::ctx::Ctx;
use crate::error::{Cancelled, RunFailed, UserError};
use crate::ops::run::{self, CallerHeldRun, RunWatch};
use crate::scaffold::TemplateSearch;

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
                runner: (!args.detach).then(run::this_runner),
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
    let holder = CallerHeldRun {
        platform,
        id: &run_id,
    };
    let supervised = run::supervise(
        &holder,
        &mut Terminal {
            ctx,
            run_id: &run_id,
        },
        &executor,
        &RunInfo::of(&started.run),
        &definition,
        &started.run.params,
    )
    .await;
    let Some(supervised) = supervised else {
        // The run was ended without this process (it stopped renewing its lease, e.g. it was
        // suspended): its record says how.
        let run = platform.get_automation_run(&run_id).await?;
        return finish(ctx, &run, false);
    };
    let run = supervised.run.map_err(anyhow::Error::msg)?;
    finish(ctx, &run, supervised.interrupted)
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

/// Shows a run's progress on the terminal; Ctrl-C cancels it.
struct Terminal<'a> {
    ctx: &'a Ctx,
    run_id: &'a str,
}

impl RunWatch for Terminal<'_> {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Log(line) => self.ctx.out.info(&format!("  {line}")),
            RunEvent::StepStarted { index, steps, .. } => {
                let step = &steps[*index];
                self.ctx
                    .out
                    .status("Step", &format!("{} ({})", step.id, step.action));
            }
            RunEvent::StepFinished { .. } | RunEvent::StepProcess(_) => {}
        }
    }

    fn interrupted(&mut self) {
        self.ctx.out.warn("interrupted: stopping the running step");
    }

    fn report_failed(&mut self, why: &str) {
        self.ctx.out.warn(&format!(
            "could not record progress of run {}: {why}",
            self.run_id
        ));
    }

    fn stops_on_ctrl_c(&self) -> bool {
        true
    }
}

fn finish(ctx: &Ctx, run: &AutomationRun, interrupted: bool) -> Result<()> {
    let elapsed = match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) => format!(" in {}s", end.duration_since(start).as_secs()),
        _ => String::new(),
    };
    match run.status {
        RunStatus::Succeeded => {
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
            let why = run.error.clone().unwrap_or_else(|| run.status.to_string());
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
