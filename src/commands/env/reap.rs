use anyhow::Result;

use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let lifecycle = ctx.env_lifecycle().await?;
    let announce = |env: &crate::api::Env| {
        ctx.out.status(
            "Reaping",
            &format!(
                "environment {} of account {} (expired {})",
                env.name, env.account, env.expires_at
            ),
        );
    };
    let report = lifecycle
        .reap(&super::cancel_on_ctrl_c(), &announce)
        .await?;
    for env in &report.expired_requests {
        ctx.out.status(
            "Expired",
            &format!(
                "request for environment {} of account {}: nobody decided on it in time; nothing was provisioned",
                env.name, env.account
            ),
        );
    }
    if report.reaped.is_empty() && report.failed.is_empty() && report.expired_requests.is_empty() {
        ctx.out
            .status("Nothing", "to reap: no environment has expired");
    }
    for (env, error) in &report.failed {
        ctx.out.warn(&format!(
            "could not destroy {} of account {}: {error} (its lease lapses and a later reap retries)",
            env.name, env.account
        ));
    }
    let ended: Vec<_> = report
        .reaped
        .iter()
        .chain(&report.expired_requests)
        .cloned()
        .collect();
    ctx.out.list(&ended)?;
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} of {} expired environment(s) could not be destroyed",
            report.failed.len(),
            report.failed.len() + report.reaped.len()
        );
    }
    Ok(())
}
