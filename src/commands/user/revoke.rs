use anyhow::Result;

use crate::cli::UserEmailArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: UserEmailArgs) -> Result<()> {
    let user = ctx.platform().await?.revoke_user(&args.email).await?;
    ctx.out.status(
        "Revoked",
        &format!("access of {} (the user is kept)", user.email),
    );
    ctx.out.object(&user)
}
