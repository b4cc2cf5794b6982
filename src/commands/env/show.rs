use anyhow::Result;

use crate::cli::EnvNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: EnvNameArgs) -> Result<()> {
    let env = ctx.platform().await?.get_env(&args.name).await?;
    super::warn_if_expiring(ctx, &env);
    ctx.out.object(&env)
}
