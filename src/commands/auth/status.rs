use anyhow::Result;

use crate::ctx::Ctx;
use crate::output::views::LoginStatus;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let status = if let Some(token) = ctx.env.get("PLAT_TOKEN") {
        LoginStatus::from_token_env(&ctx.context, token)
    } else if ctx.context.github_actions_audience.is_some() {
        // Nothing is stored: the status is that of a fresh ID token of this job.
        let token = ctx.access_token().await?;
        LoginStatus {
            source: "github-actions".into(),
            ..LoginStatus::from_token_env(&ctx.context, &token)
        }
    } else if ctx.context.server.is_none() {
        LoginStatus::embedded(&ctx.context, &ctx.env.operator_email())
    } else {
        LoginStatus::from_session(&ctx.context, ctx.session(&ctx.context)?.status().await?)
    };
    ctx.out.object(&status)?;
    if status.logged_in {
        Ok(())
    } else {
        Err(crate::auth::AuthError::LoginRequired {
            context: ctx.context.name.clone(),
            reason: "no usable login is stored".into(),
        }
        .into())
    }
}
