mod create;
mod list;
mod revoke;
mod show;
mod update;

use anyhow::Result;

use crate::cli::UserCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::List => list::run(ctx).await,
        UserCommand::Show(args) => show::run(ctx, args).await,
        UserCommand::Create(args) => create::run(ctx, args).await,
        UserCommand::Update(args) => update::run(ctx, args).await,
        UserCommand::Revoke(args) => revoke::run(ctx, args).await,
    }
}
