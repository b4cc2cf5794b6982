use std::io::Read;

use anyhow::{Context as _, Result};

use crate::auth::{DeviceAuthorization, Secret, StoredTokens, github_actions};
use crate::cli::LoginArgs;
use crate::config::ContextConfig;
use crate::ctx::Ctx;
use crate::error::UserError;
use crate::platform::{Platform, RemotePlatform};

pub async fn run(ctx: &Ctx, args: LoginArgs) -> Result<()> {
    super::refuse_with_token_env(ctx, "login")?;
    let server = server_url(ctx, &args)?;
    // On a runner nobody can complete a device flow: a job that may request ID tokens logs
    // in with one.
    let on_runner = ctx.env.github_actions() && github_actions::available(&ctx.env);
    if args.github_actions || (on_runner && !args.with_token) {
        return login_as_github_actions_job(ctx, server, args.audience).await;
    }
    if args.audience.is_some() {
        return Err(UserError::new(
            "--audience is the audience of a GitHub Actions job's ID token",
            "plat login --github-actions --audience AUDIENCE (in a job with `permissions: id-token: write`)",
        )
        .into());
    }
    let discovery = RemotePlatform::new(&server, String::new(), None)?;
    let idp = discovery.auth_config().await?;
    let context = ContextConfig {
        name: context_name(ctx, &server),
        server: Some(server.clone()),
        oidc_issuer: Some(idp.issuer),
        oidc_client_id: Some(idp.client_id),
        oidc_audience: idp.audience,
        insecure_storage: args.insecure_storage,
        github_actions_audience: None,
        ..ctx.context.clone()
    };
    if args.insecure_storage {
        ctx.out.warn(
            "--insecure-storage: the refresh token is kept in a file under the data directory, \
             protected only by file permissions (0600); anyone with your account's access can use it",
        );
    }
    let session = ctx.session(&context)?;
    let token = if args.with_token {
        let token = read_token_from_stdin()?;
        session.store().probe().await?;
        let tokens = StoredTokens {
            refresh_token: None,
            access_token: Some(token.clone()),
        };
        session.store().save(&context.name, &tokens).await?;
        token
    } else {
        session
            .login(&|device: &DeviceAuthorization| show_device_code(ctx, device))
            .await?
            .token
    };
    save_as_current(ctx, context.clone())?;
    let me = RemotePlatform::new(&server, token.expose().to_owned(), context.account.clone())?
        .who_am_i()
        .await?;
    ctx.out.status(
        "Logged in",
        &format!("to {server} as {} (context {})", me.user, context.name),
    );
    ctx.out.object(&me)
}

/// Checks that the server accepts this job's ID token, then saves a context that holds no
/// secret: the server and the audience. Each later command asks the runner for a fresh token
/// (they last five minutes), as the clouds' GitHub logins do.
async fn login_as_github_actions_job(
    ctx: &Ctx,
    server: String,
    audience: Option<String>,
) -> Result<()> {
    let audience = audience.unwrap_or_else(|| github_actions::DEFAULT_AUDIENCE.to_owned());
    let token = github_actions::id_token(&ctx.env, &audience).await?;
    let context = ContextConfig {
        name: context_name(ctx, &server),
        server: Some(server.clone()),
        oidc_issuer: None,
        oidc_client_id: None,
        oidc_audience: None,
        insecure_storage: false,
        github_actions_audience: Some(audience),
        ..ctx.context.clone()
    };
    let me = RemotePlatform::new(&server, token.expose().to_owned(), context.account.clone())?
        .who_am_i()
        .await?;
    save_as_current(ctx, context.clone())?;
    ctx.out.status(
        "Logged in",
        &format!(
            "to {server} as {} with this GitHub Actions job's ID token (context {}; no token stored)",
            me.user, context.name
        ),
    );
    ctx.out.object(&me)
}

fn server_url(ctx: &Ctx, args: &LoginArgs) -> Result<String> {
    let server = args.server.clone().or_else(|| ctx.context.server.clone());
    let Some(server) = server else {
        return Err(UserError::new(
            "which server? this context is the embedded platform",
            "plat login --server https://plat.example.com",
        )
        .into());
    };
    let parsed = reqwest::Url::parse(&server).map_err(|err| {
        UserError::new(
            format!("invalid server URL '{server}': {err}"),
            "give a URL such as https://plat.example.com",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(UserError::new(
            format!("invalid server URL '{server}'"),
            "give an http(s) URL such as https://plat.example.com",
        )
        .into());
    }
    Ok(server.trim_end_matches('/').to_owned())
}

/// `--context` names the context to save; otherwise the server's host does, as gh does.
fn context_name(ctx: &Ctx, server: &str) -> String {
    if let Some(name) = &ctx.global.context {
        return name.clone();
    }
    if ctx.context.server.as_deref() == Some(server) {
        return ctx.context.name.clone();
    }
    let host = reqwest::Url::parse(server)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "server".into());
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn show_device_code(ctx: &Ctx, device: &DeviceAuthorization) {
    ctx.out.info(&format!(
        "To log in, open {} and enter the code {}",
        device.verification_uri, device.user_code
    ));
    if let Some(complete) = &device.verification_uri_complete {
        ctx.out.info(&format!("(or open {complete} directly)"));
    }
    ctx.out.info(&format!(
        "Waiting for approval (the code expires in {} minutes)…",
        device.expires_in.as_secs().div_ceil(60)
    ));
}

fn read_token_from_stdin() -> Result<Secret> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the token from standard input")?;
    let token = text.trim();
    if token.is_empty() {
        return Err(UserError::new(
            "no token on standard input",
            "echo \"$TOKEN\" | plat login --with-token --server URL",
        )
        .into());
    }
    Ok(Secret::new(token))
}

fn save_as_current(ctx: &Ctx, context: ContextConfig) -> Result<()> {
    let mut config = ctx.config.clone();
    config.current_context = Some(context.name.clone());
    config.upsert(context);
    config.save(&ctx.dirs.config_file())
}
