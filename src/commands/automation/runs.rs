use anyhow::Result;

use crate::cli::AutomationRunsArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AutomationRunsArgs) -> Result<()> {
    let runs = ctx
        .platform()
        .await?
        .list_automation_runs(args.name.as_deref())
        .await?;
    ctx.out.list(&runs)
}
