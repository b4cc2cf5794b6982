use anyhow::Result;

use crate::api::CreateGroup;
use crate::cli::GroupCreateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: GroupCreateArgs) -> Result<()> {
    let request = CreateGroup {
        name: args.name,
        permissions: args.permissions,
    };
    let group = ctx.platform().await?.create_group(request).await?;
    ctx.out.status("Created", &format!("group {}", group.name));
    ctx.out.object(&group)
}
