use anyhow::Result;

use crate::cli::UserUpdateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: UserUpdateArgs) -> Result<()> {
    let user = ctx
        .platform()
        .await?
        .rename_user(&args.email, &args.name)
        .await?;
    ctx.out.status("Updated", &format!("user {}", user.email));
    ctx.out.object(&user)
}
