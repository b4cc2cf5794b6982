use anyhow::Result;

use crate::api::UpdateGroup;
use crate::cli::GroupUpdateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: GroupUpdateArgs) -> Result<()> {
    let request = UpdateGroup {
        add_permissions: args.add_permissions,
        remove_permissions: args.remove_permissions,
    };
    let group = ctx
        .platform()
        .await?
        .update_group(&args.name, request)
        .await?;
    ctx.out.status("Updated", &format!("group {}", group.name));
    ctx.out.object(&group)
}
