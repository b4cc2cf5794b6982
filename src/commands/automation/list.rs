use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let automations = ctx.platform().await?.list_automations().await?;
    ctx.out.list(&automations)
}
