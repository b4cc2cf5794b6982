//! `plat scan list` / `plat scan show NAME`: inventories published with `--publish`.

use anyhow::Result;

use crate::cli::InventoryShowArgs;
use crate::ctx::Ctx;

pub async fn list(ctx: &Ctx) -> Result<()> {
    let inventories = ctx.platform().await?.list_inventories().await?;
    ctx.out.list(&inventories)
}

pub async fn show(ctx: &Ctx, args: InventoryShowArgs) -> Result<()> {
    let inventory = ctx.platform().await?.get_inventory(&args.name).await?;
    if args.entities {
        ctx.out
            .raw(inventory.entities.as_deref().unwrap_or_default());
        return Ok(());
    }
    ctx.out.object(&inventory)
}
