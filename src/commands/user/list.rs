use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let users = ctx.platform().await?.list_users().await?;
    ctx.out.list(&users)
}
