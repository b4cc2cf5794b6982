use anyhow::Result;

use crate::cli::GroupMemberArgs;
use crate::ctx::Ctx;

pub async fn add(ctx: &Ctx, args: GroupMemberArgs) -> Result<()> {
    let group = ctx
        .platform()
        .await?
        .add_group_member(&args.name, &args.email)
        .await?;
    ctx.out
        .status("Added", &format!("{} to group {}", args.email, group.name));
    ctx.out.object(&group)
}

pub async fn remove(ctx: &Ctx, args: GroupMemberArgs) -> Result<()> {
    let group = ctx
        .platform()
        .await?
        .remove_group_member(&args.name, &args.email)
        .await?;
    ctx.out.status(
        "Removed",
        &format!("{} from group {}", args.email, group.name),
    );
    ctx.out.object(&group)
}
