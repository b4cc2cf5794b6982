use anyhow::Result;

use crate::cli::GroupNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: GroupNameArgs) -> Result<()> {
    ctx.confirm(&format!("Delete group '{}'?", args.name))?;
    ctx.platform().await?.delete_group(&args.name).await?;
    ctx.out.status("Deleted", &format!("group {}", args.name));
    Ok(())
}
