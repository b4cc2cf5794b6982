use anyhow::Result;

use crate::cli::EnvExtendArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: EnvExtendArgs) -> Result<()> {
    let seconds = crate::iac::parse_duration(&args.duration)?.as_secs();
    let env = ctx
        .platform()
        .await?
        .extend_env(&args.name, seconds)
        .await?;
    ctx.out.status(
        "Extended",
        &format!("environment {} until {}", env.name, env.expires_at),
    );
    ctx.out.object(&env)
}
