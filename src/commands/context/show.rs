use anyhow::Result;

use crate::cli::ContextShowArgs;
use crate::ctx::Ctx;
use crate::output::views::ContextEntry;

pub fn run(ctx: &Ctx, args: ContextShowArgs) -> Result<()> {
    let context = match args.name {
        Some(name) => ctx.config.find(&name)?,
        None => ctx.context.clone(),
    };
    let current = context.name == ctx.config.current_name();
    let context = context.redacted();
    ctx.out.object(&ContextEntry { current, context })
}
