use anyhow::Result;

use crate::cli::AutomationNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AutomationNameArgs) -> Result<()> {
    let automation = ctx.platform().await?.get_automation(&args.name).await?;
    ctx.out.object(&automation)
}
