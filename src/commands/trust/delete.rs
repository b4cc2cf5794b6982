use anyhow::Result;

use crate::cli::TrustNameArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TrustNameArgs) -> Result<()> {
    ctx.confirm(&format!("Delete trust rule '{}'?", args.name))?;
    ctx.platform().await?.delete_trust_rule(&args.name).await?;
    ctx.out
        .status("Deleted", &format!("trust rule {}", args.name));
    Ok(())
}
