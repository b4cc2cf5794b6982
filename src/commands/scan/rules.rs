use anyhow::Result;

use crate::ctx::Ctx;
use crate::scan::catalogue;

/// `plat scan rules`: the catalogue, as a table or a JSON/YAML list.
pub fn run(ctx: &Ctx) -> Result<()> {
    ctx.out.list(catalogue())
}
