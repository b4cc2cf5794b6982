use anyhow::Result;

use crate::cli::AutomationRunIdArgs;
use crate::ctx::Ctx;
use crate::ops::run::{self, Cancelled};

pub async fn run(ctx: &Ctx, args: AutomationRunIdArgs) -> Result<()> {
    let platform = ctx.platform().await?;
    match run::cancel(platform, &args.run_id).await? {
        Cancelled::StoppedOrphan(run) => {
            ctx.out.status(
                "Cancelled",
                &format!(
                    "run {}: the plat process running it had stopped; its step was stopped here",
                    run.id
                ),
            );
            ctx.out.object(&run)
        }
        Cancelled::Asked(run) if run.status.is_final() && !run.cancel_requested => {
            ctx.out.status(
                "Ended",
                &format!("run {} had already ended ({})", run.id, run.status),
            );
            ctx.out.object(&run)
        }
        Cancelled::Asked(run) => {
            ctx.out.status(
                "Cancelling",
                &format!("run {}: its running step is being stopped", run.id),
            );
            ctx.out.object(&run)
        }
    }
}
