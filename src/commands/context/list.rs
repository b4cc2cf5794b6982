use anyhow::Result;

use crate::ctx::Ctx;
use crate::output::views::ContextEntry;

pub fn run(ctx: &Ctx) -> Result<()> {
    let current = ctx.config.current_name();
    let entries: Vec<ContextEntry> = ctx
        .config
        .all_contexts()
        .into_iter()
        .map(|context| ContextEntry {
            current: context.name == current,
            context: context.redacted(),
        })
        .collect();
    ctx.out.list(&entries)
}
