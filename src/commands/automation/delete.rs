use anyhow::Result;

use crate::cli::AutomationNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AutomationNameArgs) -> Result<()> {
    ctx.confirm(&format!("Delete automation {}?", args.name))?;
    ctx.platform().await?.delete_automation(&args.name).await?;
    ctx.out
        .status("Deleted", &format!("automation {}", args.name));
    Ok(())
}
