use anyhow::Result;

use crate::cli::ContextNameArgs;
use crate::ctx::Ctx;

pub fn run(ctx: &Ctx, args: ContextNameArgs) -> Result<()> {
    let context = ctx.config.find(&args.name)?;
    let mut config = ctx.config.clone();
    config.current_context = Some(context.name.clone());
    config.save(&ctx.dirs.config_file())?;
    ctx.out.status(
        "Switched",
        &format!("to context {} ({})", context.name, context.kind()),
    );
    Ok(())
}
