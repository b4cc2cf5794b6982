use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let groups = ctx.platform().await?.list_groups().await?;
    ctx.out.list(&groups)
}
