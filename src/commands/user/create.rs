use anyhow::Result;

use crate::api::CreateUser;
use crate::cli::UserCreateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: UserCreateArgs) -> Result<()> {
    let request = CreateUser {
        email: args.email,
        name: args.name,
        groups: args.groups,
    };
    let platform = ctx.platform().await?;
    let user = platform.create_user(request).await?;
    let account = platform.who_am_i().await?.account;
    ctx.out
        .status("Linked", &format!("{} to account {account}", user.email));
    ctx.out.object(&user)
}
