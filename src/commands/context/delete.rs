use anyhow::Result;

use crate::cli::ContextNameArgs;
use crate::ctx::Ctx;
use crate::error::UserError;

pub fn run(ctx: &Ctx, args: ContextNameArgs) -> Result<()> {
    let mut config = ctx.config.clone();
    let before = config.contexts.len();
    config.contexts.retain(|c| c.name != args.name);
    if config.contexts.len() == before {
        return Err(UserError::new(
            format!("context '{}' does not exist", args.name),
            "run `plat context list` to see the contexts",
        )
        .into());
    }
    if config.current_context.as_deref() == Some(args.name.as_str()) {
        config.current_context = None;
    }
    config.save(&ctx.dirs.config_file())?;
    ctx.out.status("Deleted", &format!("context {}", args.name));
    Ok(())
}
