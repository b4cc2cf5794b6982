use anyhow::Result;

use crate::api::{DecideEnv, EnvDecision};
use crate::cli::EnvDecisionArgs;
use crate::ctx::Ctx;

/// `plat env approve|reject NAME` (R-GOV-2): the platform checks the approver and records the
/// decision; the requester's `plat env up` provisions an approved env.
pub async fn run(ctx: &Ctx, args: EnvDecisionArgs, decision: EnvDecision) -> Result<()> {
    let request = DecideEnv {
        decision,
        comment: args.comment,
    };
    let env = ctx
        .platform()
        .await?
        .decide_env(&args.name, request)
        .await?;
    match decision {
        EnvDecision::Approve => ctx.out.status(
            "Approved",
            &format!(
                "environment {}; {}'s waiting `plat env up --wait` provisions it, or their next `plat env up {}`",
                env.name, env.owner, env.name
            ),
        ),
        EnvDecision::Reject => ctx.out.status(
            "Rejected",
            &format!("environment {}; nothing was provisioned", env.name),
        ),
    }
    ctx.out.object(&env)
}
