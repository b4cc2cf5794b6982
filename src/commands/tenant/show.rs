use anyhow::Result;

use crate::cli::TenantNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TenantNameArgs) -> Result<()> {
    let tenant = ctx.platform().await?.get_tenant(&args.name).await?;
    ctx.out.object(&tenant)
}
