use anyhow::Result;

use crate::api::CreateAccount;
use crate::cli::AccountCreateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AccountCreateArgs) -> Result<()> {
    let mut needed = ctx.needed();
    let owner = needed.value(args.owner, "--owner", "Owner e-mail")?;
    needed.finish()?;
    let request = CreateAccount {
        slug: args.slug,
        name: args.name,
        owner,
        owner_name: None,
        tenant: args.tenant,
        roles: args.roles,
    };
    let account = ctx.platform().await?.create_account(request).await?;
    ctx.out
        .status("Created", &format!("account {}", account.slug));
    ctx.out.object(&account)
}
