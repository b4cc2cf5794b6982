use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::cli::{OutputFormat, ScaffoldRunArgs};
use crate::ctx::Ctx;
use crate::expr::Engine;
use crate::scaffold::{
    self, GitAuthor, Integrations, LoadedTemplate, ParameterInput, Prompter, RunOptions, RunResult,
    UserInfo,
};

use super::prompt::TerminalPrompter;

pub async fn run(ctx: &Ctx, args: ScaffoldRunArgs) -> Result<()> {
    ctx.authorize(crate::api::LocalWork::Scaffold).await?;
    let template = super::Templates::discover(ctx).load(&args.template)?;
    // Refuse unknown actions and untrusted hooks before asking anything.
    scaffold::preflight(&template.template, args.trust)?;
    let values = resolve_values(ctx, &template, &args)?;
    let target = super::absolute(
        args.target
            .clone()
            .unwrap_or_else(|| default_target(&template, &values)),
    );
    let options = run_options(ctx, &template, &args).await;
    ctx.out.status(
        if args.dry_run {
            "Simulating"
        } else {
            "Rendering"
        },
        &format!("template {} into {}", template.name(), target.display()),
    );
    let result = scaffold::run(&Engine::new(), &template, &target, &values, &options).await?;
    show_steps(ctx, &result);
    if args.dry_run {
        return show_dry_run(ctx, &result);
    }
    ctx.out.status(
        "Created",
        &format!("{} ({} files)", target.display(), result.files.len()),
    );
    ctx.out.object(&result)
}

fn resolve_values(
    ctx: &Ctx,
    template: &LoadedTemplate,
    args: &ScaffoldRunArgs,
) -> Result<Map<String, Value>> {
    let mut input = ParameterInput::default();
    for file in &args.values {
        let text = crate::document_limits::read_document(file, true)
            .map_err(|err| crate::error::UserError::new(err.to_string(), err.hint()))?;
        input.add_values_yaml(&text, &file.display().to_string())?;
    }
    super::sets_input(&mut input, &args.sets);
    let mut terminal = TerminalPrompter::new();
    let prompter: Option<&mut dyn Prompter> = if ctx.can_prompt() {
        Some(&mut terminal)
    } else {
        None
    };
    Ok(scaffold::resolve_parameters(template, &input, prompter)?)
}

/// `./NAME` from the `name` parameter (Backstage templates almost all have one), else the
/// template's own name.
fn default_target(template: &LoadedTemplate, values: &Map<String, Value>) -> PathBuf {
    let name = values
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty() && !name.contains(['/', '\\']) && *name != "..")
        .unwrap_or(template.name());
    PathBuf::from(name)
}

async fn run_options(ctx: &Ctx, template: &LoadedTemplate, args: &ScaffoldRunArgs) -> RunOptions {
    let publishes = !args.no_git
        && !args.dry_run
        && template
            .template
            .spec
            .steps
            .iter()
            .any(|step| step.action.starts_with("publish:"));
    let user = who(ctx, publishes).await;
    let author = GitAuthor {
        name: ctx
            .env
            .get("GIT_AUTHOR_NAME")
            .map_or_else(|| local_part(&user), str::to_owned),
        email: ctx
            .env
            .get("GIT_AUTHOR_EMAIL")
            .map_or_else(|| email_of(&user), str::to_owned),
    };
    let env = |name: &str| ctx.env.get(name).map(str::to_owned);
    RunOptions {
        dry_run: args.dry_run,
        skip_publish: args.no_git,
        trust: args.trust,
        force: args.force,
        user: Some(UserInfo {
            entity_ref: format!("user:default/{}", local_part(&user)),
            entity: json!({"metadata": {"name": local_part(&user)}, "spec": {"profile": {"email": email_of(&user)}}}),
        }),
        secrets: Map::new(),
        author,
        integrations: Integrations {
            github_token: env("GITHUB_TOKEN"),
            github_api_url: env("GITHUB_API_URL")
                .unwrap_or_else(|| Integrations::default().github_api_url),
            gitlab_token: env("GITLAB_TOKEN"),
            gitlab_api_url: env("GITLAB_API_URL"),
            backstage_url: env("PLAT_BACKSTAGE_URL"),
            backstage_token: env("PLAT_BACKSTAGE_TOKEN"),
            http: None,
        },
        task_id: Some(ulid::Ulid::generate().to_string().to_lowercase()),
    }
}

/// Who runs the template. The platform is asked only when a commit needs an author and
/// GIT_AUTHOR_* do not name one; if it cannot answer (offline, not logged in) the local
/// operator stands in, so rendering never needs the network.
async fn who(ctx: &Ctx, needs_author: bool) -> String {
    let env_names_author =
        ctx.env.get("GIT_AUTHOR_NAME").is_some() && ctx.env.get("GIT_AUTHOR_EMAIL").is_some();
    if needs_author && !env_names_author {
        let asked = async { Ok::<_, anyhow::Error>(ctx.platform().await?.who_am_i().await?.user) };
        match asked.await {
            Ok(user) => return user,
            Err(err) => ctx.out.debug(&format!(
                "cannot ask the platform who you are ({err}); committing as the local operator"
            )),
        }
    }
    ctx.env.operator_email()
}

fn local_part(user: &str) -> String {
    user.split('@').next().unwrap_or(user).to_owned()
}

fn email_of(user: &str) -> String {
    if user.contains('@') {
        user.to_owned()
    } else {
        format!("{user}@localhost")
    }
}

/// Step statuses and their logs (debug:log messages among them) on stderr.
fn show_steps(ctx: &Ctx, result: &RunResult) {
    for step in &result.steps {
        let status = serde_json::to_value(&step.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        ctx.out
            .info(&format!("  {} ({}): {status}", step.id, step.action));
        for line in &step.log {
            ctx.out.info(&format!("    {line}"));
        }
    }
}

/// The files a run would write: one path per line for people and shell loops, the whole run
/// as a document for programs.
fn show_dry_run(ctx: &Ctx, result: &RunResult) -> Result<()> {
    if ctx.out.format != OutputFormat::Table {
        return ctx.out.document(result);
    }
    for file in &result.files {
        ctx.out.stdout_line(file);
    }
    Ok(())
}
