use anyhow::Result;

use crate::api::UpdateTenant;
use crate::cli::TenantUpdateArgs;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, args: TenantUpdateArgs) -> Result<()> {
    let branding = args.branding;
    let request = UpdateTenant {
        domain: args.domain,
        logo_url: branding.logo,
        primary_color: branding.color,
        secondary_color: branding.secondary_color,
        description: branding.description,
        layout: branding.layout.into_iter().collect(),
    };
    let tenant = ctx
        .platform()
        .await?
        .update_tenant(&args.name, request)
        .await?;
    ctx.out
        .status("Updated", &format!("tenant {}", tenant.name));
    ctx.out.object(&tenant)
}
