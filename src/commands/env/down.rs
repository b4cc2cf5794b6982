use anyhow::Result;

use crate::cli::EnvNameArgs;
use crate::ctx::Ctx;
use crate::provision::RunRequest;

pub async fn run(ctx: &Ctx, args: EnvNameArgs) -> Result<()> {
    ctx.confirm(&format!(
        "Destroy environment {} and everything in it?",
        args.name
    ))?;
    let platform = ctx.platform().await?;
    // Look the template up first: a missing one must not leave the env stuck in `destroying`.
    let env = match platform.get_env(&args.name).await {
        Ok(env) => env,
        Err(err) if err.kind == crate::service::ErrorKind::NotFound => {
            ctx.out.status(
                "Gone",
                &format!(
                    "environment {} does not exist (nothing to destroy)",
                    args.name
                ),
            );
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    let catalog = ctx.env_templates()?;
    let template = catalog.find(&env.template)?;
    let provisioner = ctx.provisioner().await?;
    let Some(env) = platform.start_env_down(&args.name).await? else {
        ctx.out.status(
            "Gone",
            &format!(
                "environment {} does not exist (nothing to destroy)",
                args.name
            ),
        );
        return Ok(());
    };
    ctx.out
        .status("Destroying", &format!("environment {}", env.name));
    let (events, shown) = ctx.out.spawn_event_display(ctx.out.event_display(false));
    let cancel = super::cancel_on_ctrl_c();
    let tenant = super::tenant_of(ctx).await?;
    let fold = crate::output::github::GithubActions::detect(&ctx.env).map(|github| {
        github.group(
            &ctx.out,
            &format!("Terraform: destroy environment {}", env.name),
        )
    });
    let run = provisioner
        .down(RunRequest {
            env: &env,
            template,
            tenant: &tenant,
            state: platform.state_backend(&env),
            events: Some(events),
            cancel: &cancel,
        })
        .await;
    let _ = shown.await;
    drop(fold);
    let env = platform.finish_env_down(&env.name, run.outcome).await?;
    run.result?;
    ctx.out
        .status("Destroyed", &format!("environment {}", env.name));
    ctx.out.object(&env)
}
