use std::time::Duration;

use anyhow::Result;

use crate::cli::EnvLogsArgs;
use crate::ctx::Ctx;

/// The raw Terraform `-json` log of this machine's runs, line by line.
pub async fn run(ctx: &Ctx, args: EnvLogsArgs) -> Result<()> {
    let platform = ctx.platform().await?;
    let env = platform.get_env(&args.name).await?;
    let path = crate::provision::log_path(&ctx.dirs.data, &env);
    let mut printed = 0;
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.len() > printed {
            ctx.out.raw(&text[printed..]);
            printed = text.len();
        }
        if !args.follow {
            break;
        }
        let status = platform
            .get_env(&args.name)
            .await
            .map(|e| e.status)
            .unwrap_or_default();
        if status != "provisioning" && status != "destroying" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if printed == 0 {
        ctx.out.info(&format!(
            "no log for environment {} on this machine ({})",
            env.name,
            path.display()
        ));
    }
    Ok(())
}
