use anyhow::Result;

use crate::cli::ContextAddArgs;
use crate::config::ContextConfig;
use crate::ctx::Ctx;
use crate::output::views::ContextEntry;

pub fn run(ctx: &Ctx, args: ContextAddArgs) -> Result<()> {
    crate::service::vocabulary::check_slug("context name", &args.name)?;
    let context = ContextConfig {
        name: args.name,
        server: args.server,
        database_url: args.database_url,
        user: args.user,
        account: args.default_account,
        iac_bin: args.iac_bin,
        ..ContextConfig::default()
    };
    context.check_no_secrets()?;
    let mut config = ctx.config.clone();
    config.upsert(context.clone());
    if args.make_current {
        config.current_context = Some(context.name.clone());
    }
    config.save(&ctx.dirs.config_file())?;
    ctx.out
        .status("Saved", &format!("context {}", context.name));
    let current = context.name == config.current_name();
    let context = context.redacted();
    ctx.out.object(&ContextEntry { current, context })
}
