use anyhow::Result;

use crate::api::CreateTrustRule;
use crate::cli::TrustAddArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TrustAddArgs) -> Result<()> {
    let request = CreateTrustRule {
        name: args.name,
        issuer: args.issuer,
        audience: args.audience,
        claims: args.claims.into_iter().collect(),
        group: args.group,
    };
    let rule = ctx.platform().await?.add_trust_rule(request).await?;
    ctx.out.status(
        "Trusted",
        &format!(
            "{}: matching tokens act as {} with group {}",
            rule.name, rule.identity, rule.group
        ),
    );
    ctx.out.object(&rule)
}
