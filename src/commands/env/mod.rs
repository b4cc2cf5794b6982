//! `plat env …`: the platform decides (quota, lifetime, names), Terraform provisions, the
//! platform records. See `service/envs.rs` for the rules and `provision/` for the runs.

mod decide;
mod down;
mod extend;
mod list;
mod logs;
mod outputs;
mod quota;
mod reap;
mod show;
mod template;
mod up;

use anyhow::Result;

use crate::api::{Env, EnvDecision};
use crate::cli::EnvCommand;
use crate::ctx::Ctx;

pub async fn run(ctx: &Ctx, command: EnvCommand) -> Result<()> {
    match command {
        EnvCommand::Template(args) => template::run(ctx, args.command),
        EnvCommand::Up(args) => up::run(ctx, args).await,
        EnvCommand::List(args) => list::run(ctx, args).await,
        EnvCommand::Show(args) => show::run(ctx, args).await,
        EnvCommand::Logs(args) => logs::run(ctx, args).await,
        EnvCommand::Outputs(args) => outputs::run(ctx, args).await,
        EnvCommand::Extend(args) => extend::run(ctx, args).await,
        EnvCommand::Down(args) => down::run(ctx, args).await,
        EnvCommand::Quota => quota::run(ctx).await,
        EnvCommand::Reap => reap::run(ctx).await,
        EnvCommand::Approve(args) => decide::run(ctx, args, EnvDecision::Approve).await,
        EnvCommand::Reject(args) => decide::run(ctx, args, EnvDecision::Reject).await,
    }
}

/// Envs that expire within five minutes get a warning, so nobody loses work by surprise.
fn warn_if_expiring(ctx: &Ctx, env: &Env) {
    let expires = env.expires_at;
    if env.destroyed_at.is_some() || crate::ops::env::awaits_provisioning(env) {
        return;
    }
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    if left <= 0 {
        ctx.out.warn(&format!(
            "environment '{}' has expired and will be destroyed by the reaper",
            env.name
        ));
    } else if left <= 5 * 60 {
        ctx.out.warn(&format!(
            "environment '{}' expires in {} (extend it with `plat env extend {} 30m`)",
            env.name,
            crate::service::envs::human(left),
            env.name
        ));
    }
}

/// Forwards Ctrl-C to Terraform: the first one stops it cleanly, the second kills it.
fn cancel_on_ctrl_c() -> crate::iac::CancelHandle {
    let cancel = crate::iac::CancelHandle::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    cancel
}
