use anyhow::Result;

use crate::cli::EnvListArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: EnvListArgs) -> Result<()> {
    let envs = ctx.platform().await?.list_envs(args.all).await?;
    for env in &envs {
        super::warn_if_expiring(ctx, env);
    }
    ctx.out.list(&envs)
}
