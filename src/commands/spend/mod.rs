use anyhow::Result;

use crate::api::SpendLine;
use crate::cli::SpendArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: SpendArgs) -> Result<()> {
    let report = ctx
        .platform()
        .await?
        .spend(&args.by, args.month.as_deref())
        .await?;
    ctx.out.status(
        "Spend",
        &format!(
            "of {} in {} by {}, {} to {}",
            report.month, report.currency, report.by, report.since, report.until
        ),
    );
    let total = SpendLine {
        key: "TOTAL".into(),
        envs: report.lines.iter().map(|line| line.envs).sum(),
        env_days: report.lines.iter().map(|line| line.env_days).sum(),
        cost: report.total,
    };
    let mut rows = report.lines.clone();
    rows.push(total);
    ctx.out.report(&report, &rows)
}
