mod list;

use anyhow::Result;

use crate::cli::AuditCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::List(args) => list::run(ctx, args).await,
    }
}
