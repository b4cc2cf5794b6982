use anyhow::Result;

use crate::api::AuditQuery;
use crate::cli::AuditListArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: AuditListArgs) -> Result<()> {
    let query = AuditQuery {
        since: args.since,
        actor: args.actor,
        action: args.action,
        outcome: args.outcome,
        limit: Some(args.limit),
        cursor: None,
    };
    let page = ctx.platform().await?.list_audit(&query).await?;
    if page.next.is_some() {
        ctx.out.info(&format!(
            "showing the newest {}; narrow with --since, --actor, --action or raise --limit",
            args.limit
        ));
    }
    ctx.out.list(&page.events)
}
