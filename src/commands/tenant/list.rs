use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let tenants = ctx.platform().await?.list_tenants().await?;
    ctx.out.list(&tenants)
}
