use anyhow::Result;

use crate::ctx::Ctx;
use crate::provision::RunRequest;

/// How long a reaper may take before another one may retry the same env.
const LEASE_SECONDS: i64 = 15 * 60;

pub async fn run(ctx: &Ctx) -> Result<()> {
    let platform = ctx.platform().await?;
    let expired = platform.claim_expired_envs(LEASE_SECONDS).await?;
    if expired.is_empty() {
        ctx.out
            .status("Nothing", "to reap: no environment has expired");
        return ctx.out.list(&expired);
    }
    let provisioner = ctx.provisioner().await?;
    let catalog = ctx.env_templates()?;
    let tenant = super::tenant_of(ctx).await?;
    let cancel = super::cancel_on_ctrl_c();
    let mut reaped = Vec::new();
    let mut failures = 0;
    for env in expired {
        ctx.out.status(
            "Reaping",
            &format!("environment {} (expired {})", env.name, env.expires_at),
        );
        let destroyed = match catalog.find(&env.template) {
            Ok(template) => provisioner
                .down(RunRequest {
                    env: &env,
                    template,
                    tenant: &tenant,
                    state: platform.state_backend(&env),
                    events: None,
                    cancel: &cancel,
                })
                .await
                .succeeded()
                .map_err(anyhow::Error::from),
            Err(err) => Err(err.into()),
        };
        match destroyed {
            Ok(outcome) => reaped.push(platform.finish_env_down(&env.name, outcome).await?),
            Err(err) => {
                failures += 1;
                ctx.out.warn(&format!(
                    "could not destroy {}: {err:#} (the lease lapses and a later reap retries)",
                    env.name
                ));
            }
        }
    }
    ctx.out.list(&reaped)?;
    if failures > 0 {
        anyhow::bail!("{failures} expired environment(s) could not be destroyed");
    }
    Ok(())
}
