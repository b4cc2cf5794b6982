//! Publishing a rendered project: `publish:git` (a plain Git remote), `publish:github`,
//! `publish:github:pull-request`, `publish:gitlab` and `publish:gitlab:merge-request`, with the
//! inputs and outputs of Backstage's actions. Which hosts a step may reach ([`HostPolicy`]) and
//! which token it uses ([`token_for`]) are decided here, once, for every one of them.

use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

use super::actions::{KNOWN_ACTIONS, Outcome, Runner, flag, invalid, required, string, strings};
use super::git::{self, GitCredentials, PushRequest};
use super::{Integrations, LoadedTemplate, RunOptions, ScaffoldError, Step};
use crate::expr::Engine;
use crate::expr::filters::{RepoUrl, parse_repo_url};

/// Hosts the template's `RepoUrlPicker` fields accept (`ui:options.allowedHosts`). Backstage's
/// form refuses any other host; plat has no form in front of `--set`, so the actions refuse it.
#[derive(Debug, Default)]
pub(crate) struct HostPolicy {
    /// `(parameter name, allowed hosts)` for every picker that lists hosts.
    pickers: Vec<(String, Vec<String>)>,
}

impl HostPolicy {
    pub(crate) fn from_parameters(pages: &[Value]) -> Self {
        let mut policy = Self::default();
        for page in pages {
            policy.collect(page);
        }
        policy
    }

    /// Every schema object with `properties`, however deep (`dependencies`, `oneOf`, `allOf`).
    fn collect(&mut self, schema: &Value) {
        match schema {
            Value::Object(entries) => {
                if let Some(Value::Object(properties)) = entries.get("properties") {
                    for (name, field) in properties {
                        if let Some(hosts) = picker_hosts(field) {
                            self.pickers.push((name.clone(), hosts));
                        }
                    }
                }
                entries.values().for_each(|value| self.collect(value));
            }
            Value::Array(items) => items.iter().for_each(|item| self.collect(item)),
            _ => {}
        }
    }

    /// The hosts `step` may publish to: those of the pickers its `repoUrl` input names, else
    /// those of every picker; `None` when the template lists no hosts at all.
    fn allowed_for(&self, step: &Step) -> Option<Vec<String>> {
        let raw = step
            .input
            .get("repoUrl")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let named: Vec<&(String, Vec<String>)> = self
            .pickers
            .iter()
            .filter(|(name, _)| names_parameter(raw, name))
            .collect();
        let chosen = if named.is_empty() {
            self.pickers.iter().collect()
        } else {
            named
        };
        let mut hosts: Vec<String> = chosen
            .into_iter()
            .flat_map(|(_, hosts)| hosts.iter().cloned())
            .collect();
        hosts.sort();
        hosts.dedup();
        (!hosts.is_empty()).then_some(hosts)
    }

    fn check(&self, step: &Step, repo_url: &str, host: &str) -> Result<(), ScaffoldError> {
        match self.allowed_for(step) {
            Some(allowed) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) => {
                Err(ScaffoldError::HostNotAllowed {
                    action: step.action.clone(),
                    repo_url: repo_url.to_owned(),
                    host: host.to_owned(),
                    allowed,
                })
            }
            _ => Ok(()),
        }
    }
}

fn picker_hosts(field: &Value) -> Option<Vec<String>> {
    if field.get("ui:field").and_then(Value::as_str) != Some("RepoUrlPicker") {
        return None;
    }
    let hosts: Vec<String> = field
        .pointer("/ui:options/allowedHosts")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    (!hosts.is_empty()).then_some(hosts)
}

/// Whether the expression text `raw` reads `parameters.NAME` (not `parameters.NAMEx`).
fn names_parameter(raw: &str, name: &str) -> bool {
    let needle = format!("parameters.{name}");
    raw.match_indices(&needle).any(|(at, _)| {
        !raw[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The forge an action talks to, and how it takes its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forge {
    GitHub,
    GitLab,
}

impl Forge {
    fn of(action: &str) -> Option<Self> {
        if action.starts_with("publish:github") {
            Some(Self::GitHub)
        } else if action.starts_with("publish:gitlab") {
            Some(Self::GitLab)
        } else {
            None
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Self::GitHub => "GITHUB_TOKEN",
            Self::GitLab => "GITLAB_TOKEN",
        }
    }

    fn integration_token(self, integrations: &Integrations) -> Option<&str> {
        match self {
            Self::GitHub => integrations.github_token.as_deref(),
            Self::GitLab => integrations.gitlab_token.as_deref(),
        }
        .filter(|token| !token.is_empty())
    }

    /// The user name a token goes with over HTTPS.
    fn git_username(self) -> &'static str {
        match self {
            Self::GitHub => "x-access-token",
            Self::GitLab => "oauth2",
        }
    }
}

/// A token and where it came from: GitLab takes a user's token (the step's `token`, from the
/// picker's `requestUserCredentials`) as OAuth, the integration's as a private token.
struct Token {
    value: String,
    from_step: bool,
}

/// The step's `token` input, else the integration's (`GITHUB_TOKEN`, `GITLAB_TOKEN`).
fn token_for(
    forge: Forge,
    action: &str,
    input: &Value,
    integrations: &Integrations,
) -> Result<Token, ScaffoldError> {
    if let Some(token) = string(input, "token") {
        return Ok(Token {
            value: token.to_owned(),
            from_step: true,
        });
    }
    forge
        .integration_token(integrations)
        .map(|token| Token {
            value: token.to_owned(),
            from_step: false,
        })
        .ok_or(ScaffoldError::MissingToken {
            action: KNOWN_ACTIONS
                .iter()
                .find(|known| **known == action)
                .copied()
                .unwrap_or("publish"),
            variable: forge.variable(),
        })
}

/// The host a `repoUrl` names: `host?owner=…&repo=…` for the forges, a Git URL for `publish:git`
/// (empty for a local path or `file://`).
fn repo_host(action: &str, repo_url: &str) -> Result<String, ScaffoldError> {
    if action == "publish:git" {
        if let Ok(url) = Url::parse(repo_url) {
            return Ok(url.host_str().unwrap_or_default().to_owned());
        }
        // scp-like `git@host:owner/repo.git`
        let host = repo_url
            .split_once(':')
            .map(|(before, _)| before.rsplit('@').next().unwrap_or(before))
            .unwrap_or_default();
        return Ok(host.to_owned());
    }
    Ok(parse_repo_url(repo_url).map_err(invalid)?.host)
}

/// Refuses, before any file is written, a publishing step that would be refused later: a host
/// outside the template's allowedHosts, or no token. Steps whose `repoUrl`, `token` or `if`
/// read earlier steps' outputs, or that loop with `each`, are checked when they run.
pub(super) fn preflight(
    engine: &Engine,
    template: &LoadedTemplate,
    context: &Value,
    options: &RunOptions,
) -> Result<(), ScaffoldError> {
    if options.dry_run || options.skip_publish {
        return Ok(());
    }
    let hosts = HostPolicy::from_parameters(&template.template.spec.parameters);
    let reads_steps = |value: &Value| value.to_string().contains("steps.");
    for (index, step) in template.template.spec.steps.iter().enumerate() {
        if !step.action.starts_with("publish:")
            || !KNOWN_ACTIONS.contains(&step.action.as_str())
            || step.each.is_some()
        {
            continue;
        }
        let runs = match &step.condition {
            None => true,
            Some(Value::Bool(value)) => *value,
            Some(condition) if reads_steps(condition) => continue,
            Some(condition) => engine
                .render_step_value(condition, context)
                .as_ref()
                .is_some_and(crate::expr::is_truthy),
        };
        let repo_url = step.input.get("repoUrl").cloned().unwrap_or(Value::Null);
        if !runs || reads_steps(&repo_url) || step.input.get("token").is_some_and(reads_steps) {
            continue;
        }
        // Only the two inputs that matter here: another input may read what no step wrote yet.
        let mut input = Map::new();
        for key in ["repoUrl", "token"] {
            if let Some(value) = step.input.get(key)
                && let Some(rendered) = engine.render_step_value(value, context)
            {
                input.insert(key.to_owned(), rendered);
            }
        }
        let input = Value::Object(input);
        let wrap = |source: ScaffoldError| ScaffoldError::Step {
            step: step.key(index),
            source: Box::new(source),
        };
        if let Some(url) = string(&input, "repoUrl")
            && let Ok(host) = repo_host(&step.action, url)
        {
            hosts.check(step, url, &host).map_err(wrap)?;
        }
        let token_unknown = step.input.get("token").is_some() && input.get("token").is_none();
        if let Some(forge) = Forge::of(&step.action)
            && !token_unknown
        {
            token_for(forge, &step.action, &input, &options.integrations).map_err(wrap)?;
        }
    }
    Ok(())
}

/// The REST API serving `host`: the configured GitHub API for github.com (and for every host
/// once GITHUB_API_URL points elsewhere), `/api/v3` of a GitHub Enterprise host, `/api/v4` of a
/// GitLab host unless GITLAB_API_URL names one for all.
fn api_base(forge: Forge, host: &str, integrations: &Integrations) -> String {
    match forge {
        Forge::GitHub
            if host == "github.com"
                || integrations.github_api_url != Integrations::default().github_api_url =>
        {
            integrations.github_api_url.clone()
        }
        Forge::GitHub => format!("https://{host}/api/v3"),
        Forge::GitLab => integrations
            .gitlab_api_url
            .clone()
            .unwrap_or_else(|| format!("https://{host}/api/v4")),
    }
}

/// A repository on a forge, checked against the host policy, with the API to reach it.
struct ForgeRepo {
    repo_url: RepoUrl,
    owner: String,
    name: String,
}

impl ForgeRepo {
    fn path(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// The branch a pull or merge request targets: the step's `targetBranchName`, else the default
/// branch the forge named in `repository` (read to do `what`).
fn target_branch(input: &Value, repository: &Value, what: &str) -> Result<String, ScaffoldError> {
    match string(input, "targetBranchName") {
        Some(target) => Ok(target.to_owned()),
        None => Ok(answer_str(repository, "default_branch", what)?.to_owned()),
    }
}

/// One forge's REST API, with the token and the error wording of one action.
struct Api {
    client: reqwest::Client,
    base: Url,
    forge: Forge,
    token: Token,
    action: String,
}

impl Api {
    /// What a push to this forge authenticates with: its token, under the user name it wants.
    fn git_credentials(&self) -> GitCredentials<'_> {
        GitCredentials {
            username: self.forge.git_username(),
            token: &self.token.value,
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ScaffoldError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| invalid(format!("API URL `{}` cannot take a path", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends one call; an answer other than 2xx becomes an error naming the action, what it
    /// tried and the forge's message.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, ScaffoldError> {
        let mut request = self.client.request(method, url);
        request = match (self.forge, self.token.from_step) {
            (Forge::GitHub, _) => request
                .bearer_auth(&self.token.value)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28"),
            (Forge::GitLab, true) => request.bearer_auth(&self.token.value),
            (Forge::GitLab, false) => request.header("private-token", &self.token.value),
        }
        .header("user-agent", "plat");
        if let Some(body) = body {
            request = request.json(body);
        }
        let failed = |message: String| ScaffoldError::Http {
            action: format!("{}: cannot {what}", self.action),
            message,
        };
        let response = request
            .send()
            .await
            .map_err(|err| failed(err.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| failed(err.to_string()))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            return Err(failed(format!("{status}: {}", error_message(&answer))));
        }
        Ok(answer)
    }
}

/// What a forge says went wrong: GitHub's `message` and its `errors[].message` ("Validation
/// Failed: A pull request already exists…"), GitLab's `message` (a string or per-field lists)
/// or `error`.
fn error_message(answer: &Value) -> String {
    let mut message = match answer.get("message").or_else(|| answer.get("error")) {
        Some(Value::String(message)) => message.clone(),
        Some(other) => other.to_string(),
        None => answer.as_str().unwrap_or_default().to_owned(),
    };
    let details: Vec<&str> = answer
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| error.get("message").and_then(Value::as_str))
        .collect();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    message
}

fn answer_str<'v>(answer: &'v Value, key: &str, what: &str) -> Result<&'v str, ScaffoldError> {
    answer
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("the answer to `{what}` has no `{key}`")))
}

/// GitLab's create-project options in its own spelling (`snake_case`), as gitbeaker sends them.
fn snake_case_keys(settings: &Map<String, Value>) -> Map<String, Value> {
    settings
        .iter()
        .map(|(key, value)| {
            let mut snake = String::new();
            for c in key.chars() {
                if c.is_ascii_uppercase() {
                    snake.push('_');
                    snake.push(c.to_ascii_lowercase());
                } else {
                    snake.push(c);
                }
            }
            (snake, value.clone())
        })
        .collect()
}

impl Runner<'_> {
    /// The step's repository, refused when its host is not allowed.
    fn forge_repo(&self, step: &Step, input: &Value) -> Result<ForgeRepo, ScaffoldError> {
        let raw = required(input, "repoUrl")?;
        let repo_url = parse_repo_url(raw).map_err(invalid)?;
        self.hosts.check(step, raw, &repo_url.host)?;
        let owner = repo_url
            .owner
            .clone()
            .ok_or_else(|| invalid("repoUrl has no owner"))?;
        Ok(ForgeRepo {
            name: repo_url.repo.clone(),
            owner,
            repo_url,
        })
    }

    /// The API of `repo`'s host for `step`'s action, with its token.
    fn api(&self, step: &Step, input: &Value, repo: &ForgeRepo) -> Result<Api, ScaffoldError> {
        let integrations = &self.options.integrations;
        let forge = Forge::of(&step.action).unwrap_or(Forge::GitHub);
        let token = token_for(forge, &step.action, input, integrations)?;
        let base = api_base(forge, &repo.repo_url.host, integrations);
        let base = Url::parse(base.trim_end_matches('/'))
            .map_err(|err| invalid(format!("API URL `{base}`: {err}")))?;
        Ok(Api {
            client: self.http(),
            base,
            forge,
            token,
            action: step.action.clone(),
        })
    }

    pub(super) fn publish_git(
        &mut self,
        step: &Step,
        input: &Value,
    ) -> Result<Outcome, ScaffoldError> {
        let remote = required(input, "repoUrl")?;
        self.hosts
            .check(step, remote, &repo_host(&step.action, remote)?)?;
        let branch = string(input, "defaultBranch").unwrap_or("main");
        let message = string(input, "gitCommitMessage").unwrap_or("initial commit");
        let author = self.author(input);
        let mut output = Map::new();
        output.insert("remoteUrl".into(), json!(remote));
        output.insert("repoContentsUrl".into(), json!(remote));
        if self.options.dry_run {
            output.insert("commitHash".into(), json!("0".repeat(40)));
            return Ok(Outcome::simulated(
                output,
                format!(
                    "would commit as {} <{}> and push branch {branch} to {remote}",
                    author.name, author.email
                ),
            ));
        }
        let commit = git::init_commit_push(
            &self.source_dir(input)?,
            &PushRequest {
                remote_url: remote,
                branch,
                message,
                author: &author,
                credentials: None,
            },
        )?;
        output.insert("commitHash".into(), json!(commit));
        Ok(Outcome {
            output,
            log: vec![format!("pushed {commit} to {remote} ({branch})")],
            simulated: false,
            skipped: false,
        })
    }

    /// `GET /users/{owner}`, `POST /orgs/{owner}/repos` or `/user/repos`, `PUT …/topics`, push.
    pub(super) async fn publish_github(
        &mut self,
        step: &Step,
        input: &Value,
    ) -> Result<Outcome, ScaffoldError> {
        let repo = self.forge_repo(step, input)?;
        let (owner, name) = (&repo.owner, &repo.name);
        let branch = string(input, "defaultBranch").unwrap_or("master");
        let message = string(input, "gitCommitMessage").unwrap_or("initial commit");
        let visibility = string(input, "repoVisibility").unwrap_or("private");
        let author = self.author(input);
        if self.options.dry_run {
            let host = &repo.repo_url.host;
            let mut output = Map::new();
            output.insert(
                "remoteUrl".into(),
                json!(format!("https://{host}/{owner}/{name}.git")),
            );
            output.insert(
                "repoContentsUrl".into(),
                json!(format!("https://{host}/{owner}/{name}/blob/{branch}")),
            );
            output.insert("commitHash".into(), json!("0".repeat(40)));
            return Ok(Outcome::simulated(
                output,
                format!(
                    "would create the {visibility} repository {owner}/{name} through {} and push branch {branch}",
                    self.options.integrations.github_api_url
                ),
            ));
        }
        let api = self.api(step, input, &repo)?;
        let owner_info = api
            .call(
                Method::GET,
                api.url(&["users", owner])?,
                None,
                "look up the GitHub owner",
            )
            .await?;
        let create_url = if owner_info.get("type").and_then(Value::as_str) == Some("Organization") {
            api.url(&["orgs", owner, "repos"])?
        } else {
            api.url(&["user", "repos"])?
        };
        let mut body = json!({
            "name": name,
            "private": visibility != "public",
            "visibility": visibility,
        });
        if let Some(description) = string(input, "description") {
            body["description"] = json!(description);
        }
        let what = format!("create the GitHub repository {owner}/{name}");
        let created = api
            .call(Method::POST, create_url, Some(&body), &what)
            .await?;
        let clone_url = answer_str(&created, "clone_url", &what)?.to_owned();
        let html_url = created
            .get("html_url")
            .and_then(Value::as_str)
            .unwrap_or(&clone_url)
            .to_owned();
        let topics = strings(input, "topics")?;
        if !topics.is_empty() {
            api.call(
                Method::PUT,
                api.url(&["repos", owner, name, "topics"])?,
                Some(&json!({ "names": topics })),
                "set the repository topics",
            )
            .await?;
        }
        let commit = git::init_commit_push(
            &self.source_dir(input)?,
            &PushRequest {
                remote_url: &clone_url,
                branch,
                message,
                author: &author,
                credentials: Some(api.git_credentials()),
            },
        )?;
        let mut output = Map::new();
        output.insert("remoteUrl".into(), json!(clone_url));
        output.insert(
            "repoContentsUrl".into(),
            json!(format!("{html_url}/blob/{branch}")),
        );
        output.insert("commitHash".into(), json!(commit));
        Ok(Outcome {
            output,
            log: vec![format!("created {owner}/{name} and pushed {commit}")],
            simulated: false,
            skipped: false,
        })
    }

    /// `GET /repos/{owner}/{repo}`, a branch pushed with the workspace files, `POST …/pulls`, and
    /// `POST …/requested_reviewers` when reviewers are named.
    pub(super) async fn publish_github_pull_request(
        &mut self,
        step: &Step,
        input: &Value,
    ) -> Result<Outcome, ScaffoldError> {
        let repo = self.forge_repo(step, input)?;
        let (owner, name) = (&repo.owner, &repo.name);
        let branch = required(input, "branchName")?;
        let title = required(input, "title")?;
        let description = string(input, "description").unwrap_or_default();
        let target_path = string(input, "targetPath").unwrap_or("./");
        let message = string(input, "commitMessage").unwrap_or(title);
        let draft = flag(input, "draft");
        let reviewers = strings(input, "reviewers")?;
        let team_reviewers = strings(input, "teamReviewers")?;
        let assignees = strings(input, "assignees")?;
        if self.options.dry_run {
            // Backstage's own dry run of this action answers with pull request 43.
            let target = string(input, "targetBranchName").unwrap_or("main");
            let mut output = Map::new();
            output.insert("targetBranchName".into(), json!(target));
            output.insert(
                "remoteUrl".into(),
                json!(format!(
                    "https://{}/{owner}/{name}/pull/43",
                    repo.repo_url.host
                )),
            );
            output.insert("pullRequestNumber".into(), json!(43));
            return Ok(Outcome::simulated(
                output,
                format!(
                    "would push branch {branch} to {owner}/{name} and open a pull request `{title}` into {target}"
                ),
            ));
        }
        let source = self.source_dir(input)?;
        let author = self.author(input);
        let api = self.api(step, input, &repo)?;
        let what = format!("read the GitHub repository {owner}/{name}");
        let existing = api
            .call(Method::GET, api.url(&["repos", owner, name])?, None, &what)
            .await?;
        let clone_url = answer_str(&existing, "clone_url", &what)?.to_owned();
        let target = target_branch(input, &existing, &what)?;
        let commit = git::branch_commit_push(
            &source,
            target_path,
            &target,
            &PushRequest {
                remote_url: &clone_url,
                branch,
                message,
                author: &author,
                credentials: Some(api.git_credentials()),
            },
        )?;
        let what = format!("open a pull request from {branch} into {target} of {owner}/{name}");
        let pull = api
            .call(
                Method::POST,
                api.url(&["repos", owner, name, "pulls"])?,
                Some(&json!({
                    "title": title,
                    "body": description,
                    "head": branch,
                    "base": target,
                    "draft": draft,
                })),
                &what,
            )
            .await?;
        let html_url = answer_str(&pull, "html_url", &what)?.to_owned();
        let number = pull
            .get("number")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(format!("the answer to `{what}` has no `number`")))?;
        let mut log = vec![format!("pushed {commit} to {branch} and opened {html_url}")];
        if !reviewers.is_empty() || !team_reviewers.is_empty() {
            let requested = api
                .call(
                    Method::POST,
                    api.url(&[
                        "repos",
                        owner,
                        name,
                        "pulls",
                        &number.to_string(),
                        "requested_reviewers",
                    ])?,
                    Some(&json!({"reviewers": reviewers, "team_reviewers": team_reviewers})),
                    "request reviewers",
                )
                .await;
            // As Backstage: the pull request stands even when reviewers cannot be requested.
            if let Err(err) = requested {
                log.push(format!("warning: {err}"));
            }
        }
        if !assignees.is_empty() {
            let assigned = api
                .call(
                    Method::POST,
                    api.url(&[
                        "repos",
                        owner,
                        name,
                        "issues",
                        &number.to_string(),
                        "assignees",
                    ])?,
                    Some(&json!({ "assignees": assignees })),
                    "assign the pull request",
                )
                .await;
            if let Err(err) = assigned {
                log.push(format!("warning: {err}"));
            }
        }
        let mut output = Map::new();
        output.insert("targetBranchName".into(), json!(target));
        output.insert("remoteUrl".into(), json!(html_url));
        output.insert("pullRequestNumber".into(), json!(number));
        Ok(Outcome {
            output,
            log,
            simulated: false,
            skipped: false,
        })
    }

    /// `GET /namespaces/{owner}`, `POST /projects`, then a push of the workspace.
    pub(super) async fn publish_gitlab(
        &mut self,
        step: &Step,
        input: &Value,
    ) -> Result<Outcome, ScaffoldError> {
        let repo = self.forge_repo(step, input)?;
        let (owner, name) = (&repo.owner, &repo.name);
        let branch = string(input, "defaultBranch").unwrap_or("master");
        let message = string(input, "gitCommitMessage").unwrap_or("initial commit");
        let visibility = string(input, "repoVisibility").unwrap_or("private");
        let author = self.author(input);
        if self.options.dry_run {
            let remote = format!("https://{}/{owner}/{name}", repo.repo_url.host);
            let mut output = Map::new();
            output.insert(
                "repoContentsUrl".into(),
                json!(format!("{remote}/-/blob/{branch}")),
            );
            output.insert("remoteUrl".into(), json!(remote));
            output.insert("commitHash".into(), json!("0".repeat(40)));
            return Ok(Outcome::simulated(
                output,
                format!(
                    "would create the {visibility} GitLab project {owner}/{name} and push branch {branch}"
                ),
            ));
        }
        let source = self.source_dir(input)?;
        let api = self.api(step, input, &repo)?;
        let namespace = api
            .call(
                Method::GET,
                api.url(&["namespaces", owner])?,
                None,
                &format!("find the GitLab namespace {owner}"),
            )
            .await?;
        let namespace_id = namespace
            .get("id")
            .cloned()
            .ok_or_else(|| invalid(format!("GitLab's namespace {owner} has no id")))?;
        let mut body = Map::new();
        if let Some(Value::Object(settings)) = input.get("settings") {
            body.extend(snake_case_keys(settings));
        }
        body.insert("namespace_id".into(), namespace_id);
        body.insert("name".into(), json!(name));
        body.insert("visibility".into(), json!(visibility));
        let topics = strings(input, "topics")?;
        if !topics.is_empty() {
            body.insert("topics".into(), json!(topics));
        }
        let what = format!("create the GitLab project {owner}/{name}");
        let created = api
            .call(
                Method::POST,
                api.url(&["projects"])?,
                Some(&Value::Object(body)),
                &what,
            )
            .await?;
        let http_url = answer_str(&created, "http_url_to_repo", &what)?.to_owned();
        let project_id = created.get("id").cloned().unwrap_or(Value::Null);
        let commit = git::init_commit_push(
            &source,
            &PushRequest {
                remote_url: &http_url,
                branch,
                message,
                author: &author,
                credentials: Some(api.git_credentials()),
            },
        )?;
        let remote = http_url.trim_end_matches(".git");
        let mut output = Map::new();
        output.insert("remoteUrl".into(), json!(remote));
        output.insert(
            "repoContentsUrl".into(),
            json!(format!("{remote}/-/blob/{branch}")),
        );
        output.insert("commitHash".into(), json!(commit));
        output.insert("projectId".into(), project_id);
        output.insert("created".into(), json!(true));
        Ok(Outcome {
            output,
            log: vec![format!(
                "created the GitLab project {owner}/{name} and pushed {commit}"
            )],
            simulated: false,
            skipped: false,
        })
    }

    /// `GET /projects/{owner%2Frepo}`, a branch pushed with the workspace files, user look-ups
    /// for `assignee`/`reviewers`, then `POST /projects/{id}/merge_requests`.
    pub(super) async fn publish_gitlab_merge_request(
        &mut self,
        step: &Step,
        input: &Value,
    ) -> Result<Outcome, ScaffoldError> {
        let repo = self.forge_repo(step, input)?;
        let project_path = repo.path();
        let branch = required(input, "branchName")?;
        let title = required(input, "title")?;
        let description = string(input, "description").unwrap_or_default();
        let target_path = string(input, "targetPath").unwrap_or("./");
        let message = string(input, "commitMessage").unwrap_or(title);
        let reviewers = strings(input, "reviewers")?;
        if self.options.dry_run {
            let mut output = Map::new();
            output.insert("projectid".into(), json!(project_path));
            output.insert("projectPath".into(), json!(project_path));
            if let Some(target) = string(input, "targetBranchName") {
                output.insert("targetBranchName".into(), json!(target));
            }
            return Ok(Outcome::simulated(
                output,
                format!(
                    "would push branch {branch} to {project_path} and open a merge request `{title}`"
                ),
            ));
        }
        let source = self.source_dir(input)?;
        let author = self.author(input);
        let api = self.api(step, input, &repo)?;
        let what = format!("read the GitLab project {project_path}");
        let project = api
            .call(
                Method::GET,
                api.url(&["projects", &project_path])?,
                None,
                &what,
            )
            .await?;
        let http_url = answer_str(&project, "http_url_to_repo", &what)?.to_owned();
        let project_id = project
            .get("id")
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            .ok_or_else(|| invalid(format!("the answer to `{what}` has no `id`")))?;
        let target = target_branch(input, &project, &what)?;
        let commit = git::branch_commit_push(
            &source,
            target_path,
            &target,
            &PushRequest {
                remote_url: &http_url,
                branch,
                message,
                author: &author,
                credentials: Some(api.git_credentials()),
            },
        )?;
        let mut body = json!({
            "source_branch": branch,
            "target_branch": target,
            "title": title,
            "description": description,
            "remove_source_branch": flag(input, "removeSourceBranch"),
        });
        if let Some(assignee) = string(input, "assignee") {
            body["assignee_id"] = self.gitlab_user_id(&api, assignee).await?;
        }
        if !reviewers.is_empty() {
            let mut ids = Vec::new();
            for reviewer in &reviewers {
                ids.push(self.gitlab_user_id(&api, reviewer).await?);
            }
            body["reviewer_ids"] = json!(ids);
        }
        // GitLab takes labels as one comma-separated string; Backstage accepts a list too.
        let labels = strings(input, "labels")?;
        if !labels.is_empty() {
            body["labels"] = json!(labels.join(","));
        }
        let what = format!("open a merge request from {branch} into {target} of {project_path}");
        let merge_request = api
            .call(
                Method::POST,
                api.url(&["projects", &project_id, "merge_requests"])?,
                Some(&body),
                &what,
            )
            .await?;
        let web_url = answer_str(&merge_request, "web_url", &what)?.to_owned();
        let mut output = Map::new();
        output.insert("projectid".into(), json!(project_path));
        output.insert("targetBranchName".into(), json!(target));
        output.insert("projectPath".into(), json!(project_path));
        output.insert("mergeRequestUrl".into(), json!(web_url));
        Ok(Outcome {
            output,
            log: vec![format!("pushed {commit} to {branch} and opened {web_url}")],
            simulated: false,
            skipped: false,
        })
    }

    /// `GET /users?username=NAME`: the id GitLab's merge requests take for a person.
    async fn gitlab_user_id(&self, api: &Api, username: &str) -> Result<Value, ScaffoldError> {
        let mut url = api.url(&["users"])?;
        url.query_pairs_mut().append_pair("username", username);
        let what = format!("find the GitLab user {username}");
        let users = api.call(Method::GET, url, None, &what).await?;
        users
            .as_array()
            .and_then(|users| users.first())
            .and_then(|user| user.get("id"))
            .cloned()
            .ok_or_else(|| invalid(format!("cannot {what}: no such user")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(repo_url: &str) -> Step {
        serde_json::from_value(json!({"action": "publish:github", "input": {"repoUrl": repo_url}}))
            .unwrap()
    }

    #[test]
    fn pickers_are_found_behind_form_conditions_and_chosen_by_the_parameter_the_step_reads() {
        let pages = vec![
            json!({"properties": {"kind": {"type": "string"}}, "dependencies": {"kind": {"oneOf": [
                {"properties": {"repoUrl": {"type": "string", "ui:field": "RepoUrlPicker",
                    "ui:options": {"allowedHosts": ["gitlab.example.com"]}}}}
            ]}}}),
            json!({"allOf": [{"if": {}, "then": {"properties": {"repoUrl2": {
                "ui:field": "RepoUrlPicker", "ui:options": {"allowedHosts": ["github.com"]}}}}}]}),
        ];
        let policy = HostPolicy::from_parameters(&pages);
        assert_eq!(
            policy.allowed_for(&step("${{ parameters.repoUrl }}")),
            Some(vec!["gitlab.example.com".to_owned()]),
            "`parameters.repoUrl2` does not name `repoUrl`"
        );
        assert_eq!(
            policy.allowed_for(&step("${{ parameters.repoUrl2 }}")),
            Some(vec!["github.com".to_owned()])
        );
        assert_eq!(
            policy.allowed_for(&step("github.com?owner=a&repo=b")),
            Some(vec![
                "github.com".to_owned(),
                "gitlab.example.com".to_owned()
            ]),
            "a literal repoUrl answers to every picker"
        );
        assert_eq!(
            HostPolicy::from_parameters(&[]).allowed_for(&step("x")),
            None
        );
    }

    #[test]
    fn each_host_is_served_by_its_forges_api_unless_the_environment_points_elsewhere() {
        let default = Integrations::default();
        assert_eq!(
            api_base(Forge::GitHub, "github.com", &default),
            "https://api.github.com"
        );
        assert_eq!(
            api_base(Forge::GitHub, "ghe.example.com", &default),
            "https://ghe.example.com/api/v3"
        );
        assert_eq!(
            api_base(Forge::GitLab, "gitlab.example.com", &default),
            "https://gitlab.example.com/api/v4"
        );
        let local = Integrations {
            github_api_url: "http://127.0.0.1:8080".into(),
            gitlab_api_url: Some("http://127.0.0.1:8081/api/v4".into()),
            ..Integrations::default()
        };
        assert_eq!(
            api_base(Forge::GitHub, "ghe.example.com", &local),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            api_base(Forge::GitLab, "gitlab.com", &local),
            "http://127.0.0.1:8081/api/v4"
        );
    }

    #[test]
    fn git_remotes_name_their_host() {
        let host = |url| repo_host("publish:git", url).unwrap();
        assert_eq!(host("https://git.example.com/a/b.git"), "git.example.com");
        assert_eq!(host("git@git.example.com:a/b.git"), "git.example.com");
        assert_eq!(host("file:///srv/git/b.git"), "");
        assert_eq!(
            repo_host("publish:gitlab", "gitlab.example.com?owner=a&repo=b").unwrap(),
            "gitlab.example.com"
        );
    }
}
