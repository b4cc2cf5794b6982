mod create;
mod delete;
mod list;
mod show;
mod update;

use anyhow::Result;

use crate::cli::TenantCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: TenantCommand) -> Result<()> {
    match command {
        TenantCommand::List => list::run(ctx).await,
        TenantCommand::Show(args) => show::run(ctx, args).await,
        TenantCommand::Create(args) => create::run(ctx, args).await,
        TenantCommand::Update(args) => update::run(ctx, args).await,
        TenantCommand::Delete(args) => delete::run(ctx, args).await,
    }
}
