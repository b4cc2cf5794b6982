use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let rules = ctx.platform().await?.list_trust_rules().await?;
    ctx.out.list(&rules)
}
