use anyhow::Result;

use crate::api::SetEnvPolicy;
use crate::cli::{PolicyCommand, PolicySetArgs};
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Show => ctx.out.object(&ctx.platform().await?.env_policy().await?),
        PolicyCommand::Set(args) => set(ctx, args).await,
    }
}

async fn set(ctx: &Ctx, args: PolicySetArgs) -> Result<()> {
    let seconds = |text: &Option<String>| -> Result<Option<i64>> {
        Ok(text
            .as_deref()
            .map(crate::iac::parse_duration)
            .transpose()?
            .map(|d| d.as_secs()))
    };
    let request = SetEnvPolicy {
        tenant: args.tenant,
        ttl_default_seconds: seconds(&args.ttl_default)?,
        ttl_max_seconds: seconds(&args.ttl_max)?,
        envs_per_day: args.envs_per_day,
        require_approval: args.require_approval,
        no_require_approval: args.no_require_approval,
        budget_monthly: args.budget_monthly,
    };
    let policy = ctx.platform().await?.set_env_policy(request).await?;
    ctx.out.status(
        "Updated",
        &format!("environment policy of {}", policy.scope),
    );
    ctx.out.object(&policy)
}
