use anyhow::Result;

use crate::api::{Branding, CreateTenant};
use crate::cli::TenantCreateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TenantCreateArgs) -> Result<()> {
    let mut needed = ctx.needed();
    let domain = needed.value(args.domain, "--domain", "Domain")?;
    needed.finish()?;
    let branding = args.branding;
    let request = CreateTenant {
        name: args.name,
        domain,
        owner_account: args.owner_account,
        branding: Branding {
            logo_url: branding.logo,
            primary_color: branding.color,
            secondary_color: branding.secondary_color,
            description: branding.description,
            layout: branding.layout.into_iter().collect(),
        },
    };
    let tenant = ctx.platform().await?.create_tenant(request).await?;
    ctx.out.status(
        "Created",
        &format!("tenant {} ({})", tenant.name, tenant.domain),
    );
    ctx.out.object(&tenant)
}
