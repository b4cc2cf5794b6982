use anyhow::Result;

use crate::cli::ServerRunArgs;
use crate::ctx::Ctx;
use std::sync::Arc;
use std::time::Duration;

use crate::server::reaper::ReaperConfig;
use crate::server::{self, AutomationSettings, ServerConfig, StepTools};

pub async fn run(ctx: &Ctx, args: ServerRunArgs) -> Result<()> {
    let mut needed = ctx.needed();
    let oidc_issuer = needed.value(args.oidc_issuer, "--oidc-issuer", "OIDC issuer URL")?;
    let bootstrap_admin =
        needed.value(args.bootstrap_admin, "--bootstrap-admin", "Admin e-mail")?;
    needed.finish()?;
    ctx.init_server_logs();
    let tools = step_tools(ctx).await?;
    let config = ServerConfig {
        listen: args.listen,
        database_url: args
            .database_url
            .unwrap_or_else(|| ctx.default_server_database()),
        oidc_issuer,
        oidc_client_id: args.oidc_client_id,
        oidc_audience: args.oidc_audience,
        oidc_claims: server::ClaimNames {
            username: args.oidc_username_claim,
            groups: args.oidc_groups_claim,
        },
        bootstrap_admin,
        master_account: args.master_account,
        default_tenant_domain: args.default_domain,
        clock: ctx.clock()?,
        currency: args.currency,
        label_domain: ctx.label_domain()?,
        approval_window_seconds: ctx.approval_window()?,
        db_acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        db_statement_timeout: Duration::from_millis(args.db_statement_timeout_ms),
        amqp_url: args.amqp_url,
        amqp_runs_queue: args.amqp_runs_queue,
        audit_retention: args.audit_retention,
        automations: AutomationSettings {
            workers: usize::from(args.workers),
            run_lease: Duration::from_secs(args.run_lease_seconds),
            run_max_attempts: i64::from(args.run_max_attempts),
            webhook_secrets: Arc::new(ctx.env.vars.clone()),
            step_tools: tools.clone(),
        },
    };
    server::serve(config, reaper(ctx, &tools)).await?;
    Ok(())
}

/// Terraform and the templates, found once for the reaper and the automation workers. Without
/// Terraform the server still serves, and says what will wait.
async fn step_tools(ctx: &Ctx) -> Result<StepTools> {
    let provisioner = ctx.provisioner().await.map(Arc::new).map_err(|err| {
        tracing::warn!(error = %err, "no Terraform/OpenTofu: expired environments will not be reaped, and runs' env steps will fail");
        format!("{err:#}")
    });
    Ok(StepTools {
        provisioner,
        env_templates: ctx.env_templates()?,
        scaffold_roots: ctx.template_roots("scaffold"),
        data_dir: ctx.dirs.data.clone(),
    })
}

fn reaper(ctx: &Ctx, tools: &StepTools) -> Option<ReaperConfig> {
    Some(ReaperConfig {
        provisioner: tools.provisioner.clone().ok()?,
        templates: tools.env_templates.clone(),
        every: Duration::from_secs(
            ctx.env
                .get("PLAT_REAPER_INTERVAL_SECONDS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(30),
        ),
    })
}
