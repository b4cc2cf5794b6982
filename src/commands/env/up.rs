use anyhow::Result;

use crate::api::Env;
use crate::cli::{EnvUpArgs, EventFormat};
use crate::ctx::Ctx;
use crate::iac;
use crate::ops::env::{Provisioned, UpRequest};
use crate::output::github::GithubActions;

/// Set by `up --no-wait` on the detached `plat env up` it starts: provision the env it recorded.
/// An environment variable rather than a hidden flag or command, which completions would offer.
const BACKGROUND_MARK: &str = "PLAT_PROVISION_RECORDED";

pub async fn run(ctx: &Ctx, args: EnvUpArgs) -> Result<()> {
    if ctx.env.get(BACKGROUND_MARK).is_some() {
        return provision_recorded(ctx, &args.name).await;
    }
    let lifecycle = ctx.env_lifecycle().await?;
    let mut started = lifecycle.start(up_request(&args)?).await?;
    if started.env.status == crate::api::EnvStatus::PendingApproval {
        announce_pending(ctx, &started.env)?;
        if !args.wait {
            return ctx.out.object(&started.env);
        }
        let approved = lifecycle
            .wait_for_decision(&started.env, &ctx.clock()?)
            .await?;
        ctx.out.status(
            "Approved",
            &format!(
                "environment {} by {}",
                approved.name,
                approved
                    .approval
                    .as_ref()
                    .and_then(|a| a.decided_by.as_deref())
                    .unwrap_or("an approver")
            ),
        );
        // The approved request, provisioned as it was approved.
        started = lifecycle.start(up_request(&args)?).await?;
    }
    let env = started.env;
    if !started.created {
        ctx.out.status(
            "Found",
            &format!(
                "environment {} from an earlier request with this idempotency key",
                env.name
            ),
        );
        // A retried CI job writes the same step outputs as the first: read back from the state.
        if env.status == crate::api::EnvStatus::Ready
            && let Some(github) = GithubActions::detect(&ctx.env)
        {
            let state = lifecycle.platform.state_backend(&env);
            match lifecycle
                .provisioner
                .recorded_outputs(&env, state.as_ref())
                .await?
            {
                Some(outputs) => github.publish_env(&ctx.out, &env, &outputs)?,
                None => ctx.out.warn(&format!(
                    "environment {} has no state to read its outputs from; no step outputs written",
                    env.name
                )),
            }
        }
        return ctx.out.object(&env);
    }
    if let Some(cost) = &env.cost {
        ctx.out.status(
            "Estimated",
            &format!(
                "cost of environment {}: {:.2} {currency}/day, {:.2} {currency} until it expires ({})",
                env.name,
                cost.daily,
                cost.lifetime,
                env.expires_at,
                currency = cost.currency
            ),
        );
    }
    if args.no_wait {
        provision_in_background(ctx, &env)?;
        ctx.out.status(
            "Provisioning",
            &format!(
                "environment {} in the background; follow it with `plat env logs {} -f`",
                env.name, env.name
            ),
        );
        return ctx.out.object(&env);
    }
    ctx.out.status(
        "Provisioning",
        &format!(
            "environment {} from template {} (expires {})",
            env.name, env.template, env.expires_at
        ),
    );
    let display = ctx
        .out
        .event_display(args.events == Some(EventFormat::Ndjson));
    let (events, shown) = ctx.out.spawn_event_display(display);
    let cancel = super::cancel_on_ctrl_c();
    let github = GithubActions::detect(&ctx.env);
    let fold = github.as_ref().map(|github| {
        github.group(
            &ctx.out,
            &format!("Terraform: provision environment {}", env.name),
        )
    });
    let provisioned = lifecycle
        .provision(&env, started.template, Some(events), &cancel)
        .await;
    let _ = shown.await;
    drop(fold);
    let Provisioned { env, outputs } = provisioned?;
    match outputs {
        Ok(outputs) => {
            if let Some(github) = &github {
                github.publish_env(&ctx.out, &env, &outputs)?;
            }
            ctx.out.status(
                "Ready",
                &format!(
                    "environment {} ({} resources, expires {})",
                    env.name,
                    env.resources.len(),
                    env.expires_at
                ),
            );
            finish_output(ctx, &env, args.events.is_some())
        }
        Err(error) => {
            ctx.out.warn(&format!(
                "environment {} is marked failed; its state is kept, and `plat env down {}` destroys what was made",
                env.name, env.name
            ));
            Err(error.into())
        }
    }
}

/// R-GOV-2: the env waits for an approver; says who may decide and how, here and in Actions.
fn announce_pending(ctx: &Ctx, env: &Env) -> Result<()> {
    let deadline = env
        .approval
        .as_ref()
        .map_or(env.expires_at, |a| a.expires_at);
    ctx.out.status(
        "Pending",
        &format!(
            "approval: environment {} from template {} is recorded, nothing is provisioned yet. \
             Someone else holding `envs:approve` runs `plat env approve {}` (or `plat env reject {}`) \
             before {deadline}; then `plat env up {}` provisions it",
            env.name, env.template, env.name, env.name, env.name
        ),
    );
    if let Some(github) = GithubActions::detect(&ctx.env) {
        github.publish_pending(env)?;
    }
    Ok(())
}

fn up_request(args: &EnvUpArgs) -> Result<UpRequest> {
    Ok(UpRequest {
        name: args.name.clone(),
        template: args.template.clone(),
        params: args.params.iter().cloned().collect(),
        param_values: args
            .param_file
            .as_deref()
            .map(iac::template::load_param_file)
            .transpose()?,
        ttl: args.ttl.clone(),
        idempotency_key: args.idempotency_key.clone(),
    })
}

fn finish_output(ctx: &Ctx, env: &Env, ndjson: bool) -> Result<()> {
    if ndjson {
        let line = serde_json::json!({ "type": "env", "env": env });
        ctx.out.stdout_line(&line.to_string());
        return Ok(());
    }
    ctx.out.object(env)
}

/// `up --no-wait`: the env is recorded (quota spent, name taken); a detached `plat env up`
/// runs Terraform, so closing the terminal or the CI step does not stop it.
fn provision_in_background(ctx: &Ctx, env: &Env) -> Result<()> {
    let log_dir = crate::provision::env_dir(&ctx.dirs.data, env);
    crate::private_fs::private_dir(&log_dir)?;
    let output = crate::private_fs::create_private(&log_dir.with_extension("background.log"))?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    if let Some(context) = &ctx.global.context {
        command.args(["--context", context]);
    }
    if let Some(account) = ctx.account() {
        command.args(["--account", &account]);
    }
    if let Some(user) = &ctx.global.user {
        command.args(["--user", user]);
    }
    command
        .args(["env", "up", &env.name, "--no-input", "--quiet"])
        .env(BACKGROUND_MARK, "1")
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    detach(&mut command);
    command.spawn()?;
    Ok(())
}

/// Out of the caller's process group (Unix) or console (Windows): the terminal's Ctrl-C and
/// hang-up never reach the background `up`.
#[cfg(unix)]
fn detach(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(windows)]
fn detach(command: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
}

/// The background half of `up --no-wait`: provisions the env exactly as it was recorded.
async fn provision_recorded(ctx: &Ctx, name: &str) -> Result<()> {
    let lifecycle = ctx.env_lifecycle().await?;
    lifecycle
        .provision_recorded(name, &super::cancel_on_ctrl_c())
        .await?;
    Ok(())
}
