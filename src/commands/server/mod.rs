mod migrate;
mod run;

use anyhow::Result;

use crate::cli::{ServerArgs, ServerCommand};
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: ServerArgs) -> Result<()> {
    match args.command {
        None => run::run(ctx, args.run).await,
        Some(ServerCommand::Migrate(migrate)) => migrate::run(ctx, migrate).await,
        Some(ServerCommand::Openapi) => {
            ctx.out.raw(&crate::server::openapi_json());
            Ok(())
        }
    }
}
