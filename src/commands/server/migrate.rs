use anyhow::Result;

use crate::cli::ServerMigrateArgs;
use crate::ctx::Ctx;
use crate::store::{Store, redact_url};

pub async fn run(ctx: &Ctx, args: ServerMigrateArgs) -> Result<()> {
    let store = Store::connect(&args.database_url, 1).await?;
    store.migrate().await?;
    let version = store.schema_version().await?.unwrap_or(0);
    ctx.out.status(
        "Migrated",
        &format!(
            "{} to schema version {version}",
            redact_url(&args.database_url)
        ),
    );
    Ok(())
}
