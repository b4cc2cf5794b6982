use anyhow::Result;

use crate::api::UpdateAccount;
use crate::cli::AccountUpdateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AccountUpdateArgs) -> Result<()> {
    let request = UpdateAccount {
        name: args.name,
        tenant: args.tenant,
        owner: args.owner,
        add_roles: args.add_roles,
        remove_roles: args.remove_roles,
    };
    let account = ctx
        .platform()
        .await?
        .update_account(&args.slug, request)
        .await?;
    ctx.out
        .status("Updated", &format!("account {}", account.slug));
    ctx.out.object(&account)
}
