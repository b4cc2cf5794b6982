use anyhow::Result;

use crate::cli::EnvNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: EnvNameArgs) -> Result<()> {
    let env = ctx.platform().await?.get_env(&args.name).await?;
    ctx.out.document(&env.outputs)
}
