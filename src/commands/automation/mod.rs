//! `plat automation …`: the platform stores definitions and run records (`service/automations.rs`);
//! this process executes the runs it starts (`automation/executor.rs`) and reports each step.

mod apply;
mod cancel;
mod delete;
mod list;
mod logs;
mod run;
mod runs;
mod show;

use anyhow::Result;

use crate::cli::AutomationCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: AutomationCommand) -> Result<()> {
    match command {
        AutomationCommand::Apply(args) => apply::run(ctx, args).await,
        AutomationCommand::List => list::run(ctx).await,
        AutomationCommand::Show(args) => show::run(ctx, args).await,
        AutomationCommand::Delete(args) => delete::run(ctx, args).await,
        AutomationCommand::Run(args) => run::run(ctx, args).await,
        AutomationCommand::Runs(args) => runs::run(ctx, args).await,
        AutomationCommand::Logs(args) => logs::run(ctx, args).await,
        AutomationCommand::Cancel(args) => cancel::run(ctx, args).await,
    }
}
