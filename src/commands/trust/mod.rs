mod add;
mod delete;
mod list;

use anyhow::Result;

use crate::cli::TrustCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: TrustCommand) -> Result<()> {
    match command {
        TrustCommand::List => list::run(ctx).await,
        TrustCommand::Add(args) => add::run(ctx, args).await,
        TrustCommand::Delete(args) => delete::run(ctx, args).await,
    }
}
