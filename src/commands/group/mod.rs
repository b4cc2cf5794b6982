mod create;
mod delete;
mod idp;
mod list;
mod members;
mod permissions;
mod show;
mod update;

use anyhow::Result;

use crate::cli::GroupCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: GroupCommand) -> Result<()> {
    match command {
        GroupCommand::List => list::run(ctx).await,
        GroupCommand::Show(args) => show::run(ctx, args).await,
        GroupCommand::Create(args) => create::run(ctx, args).await,
        GroupCommand::Update(args) => update::run(ctx, args).await,
        GroupCommand::Delete(args) => delete::run(ctx, args).await,
        GroupCommand::AddMember(args) => members::add(ctx, args).await,
        GroupCommand::RemoveMember(args) => members::remove(ctx, args).await,
        GroupCommand::LinkIdp(args) => idp::link(ctx, args).await,
        GroupCommand::UnlinkIdp(args) => idp::unlink(ctx, args).await,
        GroupCommand::Permissions => permissions::run(ctx),
    }
}
