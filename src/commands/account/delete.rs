use anyhow::Result;

use crate::cli::AccountDeleteArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AccountDeleteArgs) -> Result<()> {
    ctx.confirm(&format!(
        "Delete account '{}' and its groups and user links?",
        args.slug
    ))?;
    ctx.platform().await?.delete_account(&args.slug).await?;
    ctx.out.status("Deleted", &format!("account {}", args.slug));
    Ok(())
}
