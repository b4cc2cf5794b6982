use anyhow::Result;

use crate::cli::GroupIdpArgs;
use crate::ctx::Ctx;

pub async fn link(ctx: &Ctx, args: GroupIdpArgs) -> Result<()> {
    let group = ctx
        .platform()
        .await?
        .link_group_idp(&args.name, &args.idp_group)
        .await?;
    ctx.out.status(
        "Linked",
        &format!("IdP group {} to group {}", args.idp_group, group.name),
    );
    ctx.out.object(&group)
}

pub async fn unlink(ctx: &Ctx, args: GroupIdpArgs) -> Result<()> {
    let group = ctx
        .platform()
        .await?
        .unlink_group_idp(&args.name, &args.idp_group)
        .await?;
    ctx.out.status(
        "Unlinked",
        &format!("IdP group {} from group {}", args.idp_group, group.name),
    );
    ctx.out.object(&group)
}
