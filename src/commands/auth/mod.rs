mod login;
mod logout;
mod status;
mod token;

use anyhow::Result;

pub use login::run as login;
pub use logout::run as logout;

use crate::cli::AuthCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: AuthCommand) -> Result<()> {
    match command {
        AuthCommand::Status => status::run(ctx).await,
        AuthCommand::Token => token::run(ctx).await,
    }
}

/// A login stored in the keyring would be shadowed by `PLAT_TOKEN` and never used.
fn refuse_with_token_env(ctx: &Ctx, verb: &str) -> Result<()> {
    if ctx.env.is_set("PLAT_TOKEN") {
        return Err(crate::error::UserError::new(
            format!("PLAT_TOKEN is set, so `plat {verb}` would have no effect"),
            "unset PLAT_TOKEN first (it overrides every stored login)",
        )
        .into());
    }
    Ok(())
}
