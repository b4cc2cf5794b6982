use anyhow::Result;

use crate::cli::ServerRunArgs;
use crate::ctx::Ctx;
use std::sync::Arc;
use std::time::Duration;

use crate::server::reaper::ReaperConfig;
use crate::server::{self, AutomationSettings, ServerConfig};

pub async fn run(ctx: &Ctx, args: ServerRunArgs) -> Result<()> {
    let mut needed = ctx.needed();
    let oidc_issuer = needed.value(args.oidc_issuer, "--oidc-issuer", "OIDC issuer URL")?;
    let bootstrap_admin =
        needed.value(args.bootstrap_admin, "--bootstrap-admin", "Admin e-mail")?;
    needed.finish()?;
    ctx.init_server_logs();
    let config = ServerConfig {
        listen: args.listen,
        database_url: args
            .database_url
            .unwrap_or_else(|| ctx.default_server_database()),
        oidc_issuer,
        oidc_client_id: args.oidc_client_id,
        oidc_audience: args.oidc_audience,
        bootstrap_admin,
        master_account: args.master_account,
        default_tenant_domain: args.default_domain,
        clock: ctx.clock()?,
        amqp_url: args.amqp_url,
        automations: AutomationSettings {
            workers: usize::from(args.workers),
            run_lease: Duration::from_secs(args.run_lease_seconds),
            run_max_attempts: i64::from(args.run_max_attempts),
            webhook_secrets: Arc::new(ctx.env.vars.clone()),
        },
    };
    server::serve(config, reaper(ctx).await).await?;
    Ok(())
}

/// The reaper needs Terraform and the templates; without them the server still serves, and says
/// that expired environments will wait.
async fn reaper(ctx: &Ctx) -> Option<ReaperConfig> {
    let provisioner = match ctx.provisioner().await {
        Ok(provisioner) => provisioner,
        Err(err) => {
            tracing::warn!(error = %err, "no Terraform/OpenTofu: expired environments will not be reaped by this server");
            return None;
        }
    };
    let templates = ctx.env_templates().ok()?;
    Some(ReaperConfig {
        provisioner: Arc::new(provisioner),
        templates: Arc::new(templates),
        every: Duration::from_secs(
            ctx.env
                .get("PLAT_REAPER_INTERVAL_SECONDS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(30),
        ),
    })
}
