use anyhow::Result;

use crate::cli::ScaffoldArgs;
use crate::ctx::Ctx;

pub async fn run(_ctx: &Ctx, _args: ScaffoldArgs) -> Result<()> {
    anyhow::bail!("plat scaffold is not wired yet")
}
