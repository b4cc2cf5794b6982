use anyhow::Result;

use crate::cli::EnvNameArgs;
use crate::ctx::Ctx;
use crate::ops::env::Down;

pub async fn run(ctx: &Ctx, args: EnvNameArgs) -> Result<()> {
    ctx.confirm(&format!(
        "Destroy environment {} and everything in it?",
        args.name
    ))?;
    let lifecycle = ctx.env_lifecycle().await?;
    let (events, shown) = ctx.out.spawn_event_display(ctx.out.event_display(false));
    let cancel = super::cancel_on_ctrl_c();
    let announce = |env: &crate::api::Env| {
        ctx.out
            .status("Destroying", &format!("environment {}", env.name));
    };
    let down = lifecycle
        .down(&args.name, Some(events), &cancel, &announce)
        .await;
    let _ = shown.await;
    match down? {
        Down::Gone => {
            ctx.out.status(
                "Gone",
                &format!(
                    "environment {} does not exist (nothing to destroy)",
                    args.name
                ),
            );
            Ok(())
        }
        Down::Destroyed(env) => {
            ctx.out
                .status("Destroyed", &format!("environment {}", env.name));
            ctx.out.object(env.as_ref())
        }
    }
}
