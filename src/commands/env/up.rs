use anyhow::Result;

use crate::api::{CreateEnv, Env};
use crate::cli::{EnvUpArgs, EventFormat};
use crate::ctx::Ctx;
use crate::iac::{self, Template};
use crate::output::github::GithubActions;
use crate::provision::RunRequest;

pub async fn run(ctx: &Ctx, args: EnvUpArgs) -> Result<()> {
    let catalog = ctx.env_templates()?;
    let template = catalog.find(&args.template)?;
    let params = resolve_params(template, &args)?;
    let request = CreateEnv {
        name: args.name.clone(),
        template: template.name().to_owned(),
        params: serde_json::to_value(&params)?,
        ttl_seconds: args
            .ttl
            .as_deref()
            .map(iac::parse_duration)
            .transpose()?
            .map(|d| d.as_secs()),
        template_ttl_default_seconds: template.manifest.ttl.default.as_secs(),
        template_ttl_max_seconds: template.manifest.ttl.max.as_secs(),
        idempotency_key: args.idempotency_key.clone(),
    };
    // Checked before Terraform starts, so a missing binary provisions nothing and costs no quota.
    let provisioner = ctx.provisioner().await?;
    let platform = ctx.platform().await?;
    let started = platform.start_env(request).await?;
    if !started.created {
        ctx.out.status(
            "Found",
            &format!(
                "environment {} from an earlier request with this idempotency key",
                started.env.name
            ),
        );
        if started.env.status == crate::service::envs::status::READY
            && let Some(github) = GithubActions::detect(&ctx.env)
        {
            let state = platform.state_backend(&started.env);
            match provisioner
                .recorded_outputs(&started.env, state.as_ref())
                .await?
            {
                Some(outputs) => github.publish_env(&ctx.out, &started.env, &outputs)?,
                None => ctx.out.warn(&format!(
                    "environment {} has no state to read its outputs from; no step outputs written",
                    started.env.name
                )),
            }
        }
        return ctx.out.object(&started.env);
    }
    let env = started.env;
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
    let tenant = super::tenant_of(ctx).await?;
    let github = GithubActions::detect(&ctx.env);
    let fold = github.as_ref().map(|github| {
        github.group(
            &ctx.out,
            &format!("Terraform: provision environment {}", env.name),
        )
    });
    let run = provisioner
        .up(RunRequest {
            env: &env,
            template,
            tenant: &tenant,
            state: platform.state_backend(&env),
            events: Some(events),
            cancel: &cancel,
        })
        .await;
    let _ = shown.await;
    drop(fold);
    let env = platform.finish_env_up(&env.name, run.outcome).await?;
    match run.result {
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

fn resolve_params(
    template: &Template,
    args: &EnvUpArgs,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>> {
    let file = args
        .param_file
        .as_deref()
        .map(iac::template::load_param_file)
        .transpose()?;
    let given = args.params.iter().cloned().collect();
    Ok(template.resolve_params(given, file.as_ref())?)
}

fn finish_output(ctx: &Ctx, env: &Env, ndjson: bool) -> Result<()> {
    if ndjson {
        let line = serde_json::json!({ "type": "env", "env": env });
        ctx.out.stdout_line(&line.to_string());
        return Ok(());
    }
    ctx.out.object(env)
}

/// `up --no-wait`: the env is recorded (quota spent, name taken); a detached `plat env provision`
/// runs Terraform, so closing the terminal or the CI step does not stop it.
fn provision_in_background(ctx: &Ctx, env: &Env) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let log_dir = crate::provision::env_dir(&ctx.dirs.data, env);
    std::fs::create_dir_all(&log_dir)?;
    let output = std::fs::File::create(log_dir.with_extension("background.log"))?;
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
        .args(["env", "provision", &env.name, "--no-input", "--quiet"])
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// The background half of `up --no-wait`: provisions the env exactly as it was recorded.
pub async fn provision_recorded(ctx: &Ctx, name: &str) -> Result<()> {
    let platform = ctx.platform().await?;
    let env = platform.get_env(name).await?;
    if env.status != crate::service::envs::status::PROVISIONING {
        anyhow::bail!(
            "environment {name} is {}, not waiting to be provisioned",
            env.status
        );
    }
    let catalog = ctx.env_templates()?;
    let template = catalog.find(&env.template)?;
    let provisioner = ctx.provisioner().await?;
    let cancel = super::cancel_on_ctrl_c();
    let tenant = super::tenant_of(ctx).await?;
    let run = provisioner
        .up(RunRequest {
            env: &env,
            template,
            tenant: &tenant,
            state: platform.state_backend(&env),
            events: None,
            cancel: &cancel,
        })
        .await;
    platform.finish_env_up(&env.name, run.outcome).await?;
    run.result.map(|_| ()).map_err(Into::into)
}
