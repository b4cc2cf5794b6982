use anyhow::Result;

use crate::ctx::Ctx;

/// Prints the bare token so that `curl -H "Authorization: Bearer $(plat auth token)"` works.
pub async fn run(ctx: &Ctx) -> Result<()> {
    let token = ctx.access_token().await?;
    ctx.out.raw(&format!("{token}\n"));
    Ok(())
}
