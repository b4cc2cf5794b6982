use anyhow::Result;

use crate::cli::GroupNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: GroupNameArgs) -> Result<()> {
    let group = ctx.platform().await?.get_group(&args.name).await?;
    ctx.out.object(&group)
}
