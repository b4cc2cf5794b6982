use anyhow::Result;

use crate::automation::status;
use crate::cli::AutomationRunIdArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AutomationRunIdArgs) -> Result<()> {
    let run = ctx
        .platform()
        .await?
        .cancel_automation_run(&args.run_id)
        .await?;
    if status::is_final(&run.status) && !run.cancel_requested {
        ctx.out.status(
            "Ended",
            &format!("run {} had already ended ({})", run.id, run.status),
        );
    } else {
        ctx.out.status(
            "Cancelling",
            &format!("run {}: its running step is being stopped", run.id),
        );
    }
    ctx.out.object(&run)
}
