use anyhow::Result;

use crate::cli::UserEmailArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: UserEmailArgs) -> Result<()> {
    let user = ctx.platform().await?.get_user(&args.email).await?;
    ctx.out.object(&user)
}
