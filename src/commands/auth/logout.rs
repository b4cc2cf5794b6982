use anyhow::Result;

use crate::cli::LogoutArgs;
use crate::ctx::Ctx;
use crate::error::UserError;

pub async fn run(ctx: &Ctx, args: LogoutArgs) -> Result<()> {
    super::refuse_with_token_env(ctx, "logout")?;
    if ctx.context.server.is_none() {
        return Err(UserError::new(
            format!(
                "context '{}' is the embedded platform: there is no login to forget",
                ctx.context.name
            ),
            "plat logout --context NAME",
        )
        .into());
    }
    if ctx.context.github_actions_audience.is_some() {
        ctx.out.status(
            "Nothing to forget",
            &format!(
                "context {} logs in with a fresh GitHub Actions ID token per command; none is stored",
                ctx.context.name
            ),
        );
        return Ok(());
    }
    let session = ctx.session(&ctx.context)?;
    let outcome = session.logout(!args.no_revoke).await?;
    let what = match (outcome.removed, outcome.revoked) {
        (true, true) => "removed the stored login and revoked it at the identity provider",
        (true, false) => "removed the stored login",
        (false, _) => "there was no stored login",
    };
    ctx.out.status(
        "Logged out",
        &format!("of context {}: {what}", ctx.context.name),
    );
    Ok(())
}
