use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let me = ctx.platform().await?.who_am_i().await?;
    ctx.out.object(&me)
}
