use anyhow::Result;

use crate::cli::AccountListArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AccountListArgs) -> Result<()> {
    let accounts = ctx.platform().await?.list_accounts(args.limit).await?;
    ctx.out.list(&accounts)
}
