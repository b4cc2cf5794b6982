use std::time::Duration;

use anyhow::Result;

use crate::cli::AutomationLogsArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AutomationLogsArgs) -> Result<()> {
    let platform = ctx.platform().await?;
    let mut printed = 0;
    loop {
        let logs = platform.automation_run_logs(&args.run_id).await?;
        if logs.logs.len() > printed {
            ctx.out.raw(&logs.logs[printed..]);
            printed = logs.logs.len();
        }
        if !args.follow || logs.status.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
