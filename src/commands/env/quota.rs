use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let quota = ctx.platform().await?.env_quota().await?;
    ctx.out.info(&format!(
        "{}/{} used today, resets {}",
        quota.used, quota.limit, quota.resets_at
    ));
    ctx.out.object(&quota)
}
