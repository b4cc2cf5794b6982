use anyhow::Result;

use crate::cli::TenantNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TenantNameArgs) -> Result<()> {
    ctx.confirm(&format!("Delete tenant '{}'?", args.name))?;
    ctx.platform().await?.delete_tenant(&args.name).await?;
    ctx.out.status("Deleted", &format!("tenant {}", args.name));
    Ok(())
}
