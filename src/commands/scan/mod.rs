use anyhow::Result;

use crate::cli::ScanArgs;
use crate::ctx::Ctx;

pub async fn run(_ctx: &Ctx, _args: ScanArgs) -> Result<()> {
    anyhow::bail!("plat scan is not wired yet")
}
