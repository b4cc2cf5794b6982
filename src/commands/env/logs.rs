use std::time::Duration;

use anyhow::Result;

use crate::cli::EnvLogsArgs;
use crate::ctx::Ctx;

/// The raw Terraform `-json` log, line by line: live from this machine's log file when it ran
/// Terraform here, else the runs the platform recorded (whoever ran them).
pub async fn run(ctx: &Ctx, args: EnvLogsArgs) -> Result<()> {
    let platform = ctx.platform().await?;
    let path = match platform.get_env(&args.name).await {
        Ok(env) => Some(crate::provision::log_path(&ctx.dirs.data, &env)).filter(|p| p.is_file()),
        // A destroyed env is no longer live, but its recorded logs are still there.
        Err(err) if err.kind == crate::service::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    let mut printed = 0;
    loop {
        let (text, status) = match &path {
            Some(path) => (
                std::fs::read_to_string(path).unwrap_or_default(),
                if args.follow {
                    Some(platform.get_env(&args.name).await?.status)
                } else {
                    None
                },
            ),
            None => {
                let logs = platform.env_logs(&args.name).await?;
                (logs.log, Some(logs.status))
            }
        };
        if text.len() > printed {
            ctx.out.raw(&text[printed..]);
            printed = text.len();
        }
        if !args.follow || !status.is_some_and(crate::api::EnvStatus::is_busy) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if printed == 0 {
        ctx.out
            .info(&format!("no Terraform log recorded for {} yet", args.name));
    }
    Ok(())
}
