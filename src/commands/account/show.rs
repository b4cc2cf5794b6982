use anyhow::Result;

use crate::cli::AccountShowArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AccountShowArgs) -> Result<()> {
    let platform = ctx.platform().await?;
    let slug = match args.slug {
        Some(slug) => slug,
        None => platform.who_am_i().await?.account,
    };
    let account = platform.get_account(&slug).await?;
    ctx.out.object(&account)
}
