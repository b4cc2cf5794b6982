mod create;
mod delete;
mod list;
mod show;
mod update;

use anyhow::Result;

use crate::cli::AccountCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::List(args) => list::run(ctx, args).await,
        AccountCommand::Show(args) => show::run(ctx, args).await,
        AccountCommand::Create(args) => create::run(ctx, args).await,
        AccountCommand::Update(args) => update::run(ctx, args).await,
        AccountCommand::Delete(args) => delete::run(ctx, args).await,
    }
}
