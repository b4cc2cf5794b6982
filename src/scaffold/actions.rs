//! Built-in scaffolder actions, with Backstage's input names.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::catalog_yaml;
use super::git::GitAuthor;
use super::publish::HostPolicy;
use super::render::{self, SkeletonOptions};
use super::{RunOptions, ScaffoldError, Step, StepReport, StepStatus, io_error};
use crate::expr::Engine;

/// Whether `path`, with `..` resolved by name, stays below `root`.
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                normalized.pop();
            }
            std::path::Component::CurDir => {}
            other => normalized.push(other),
        }
    }
    normalized.starts_with(root)
}

/// `id (name)` as Backstage names a step in its errors.
fn step_label(key: &str, step: &Step) -> String {
    match &step.name {
        Some(name) if !name.is_empty() => format!("{key} ({name})"),
        _ => key.to_owned(),
    }
}

pub const KNOWN_ACTIONS: &[&str] = &[
    "fetch:template",
    "fetch:template:file",
    "fetch:plain",
    "fetch:plain:file",
    "fs:rename",
    "fs:delete",
    "debug:log",
    "catalog:write",
    "catalog:register",
    "publish:git",
    "publish:github",
    "publish:github:pull-request",
    "publish:gitlab",
    "publish:gitlab:merge-request",
];

pub(super) struct Runner<'a> {
    pub engine: &'a Engine,
    pub template_dir: &'a Path,
    /// What local `url`s may reach: the template's directory, or its repository's root.
    pub source_root: &'a Path,
    pub workspace: &'a Path,
    pub options: &'a RunOptions,
    /// Where the template's repoUrl pickers let `publish:*` steps go.
    pub hosts: &'a HostPolicy,
    /// `template:NAMESPACE/NAME`, which `catalog:write` records as the entity's source.
    pub template_ref: String,
}

/// What one action invocation produced.
#[derive(Default)]
pub(super) struct Outcome {
    pub output: Map<String, Value>,
    pub log: Vec<String>,
    pub simulated: bool,
    /// `--no-git` stood in for the action: nothing ran.
    pub skipped: bool,
}

impl Outcome {
    /// A dry run's answer: the outputs the step would give, and a line saying what it would do.
    pub(super) fn simulated(output: Map<String, Value>, would: String) -> Self {
        Self {
            output,
            log: vec![would],
            simulated: true,
            skipped: false,
        }
    }
}

pub(super) fn invalid(message: impl Into<String>) -> ScaffoldError {
    ScaffoldError::InvalidInput {
        step: String::new(),
        message: message.into(),
    }
}

pub(super) fn string<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn required<'v>(input: &'v Value, key: &str) -> Result<&'v str, ScaffoldError> {
    string(input, key).ok_or_else(|| invalid(format!("input `{key}` is required")))
}

pub(super) fn flag(input: &Value, key: &str) -> bool {
    match input.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(text)) => text == "true",
        _ => false,
    }
}

pub(super) fn strings(input: &Value, key: &str) -> Result<Vec<String>, ScaffoldError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("`{key}` must be a list of strings")))
            })
            .collect(),
        Some(Value::String(single)) => Ok(vec![single.clone()]),
        Some(_) => Err(invalid(format!("`{key}` must be a list of strings"))),
    }
}

/// Why plat cannot run an action that public templates use, when the reason is known: other
/// template engines, or an API that only a running Backstage (or its plugins) answers.
pub(super) fn why_unsupported(action: &str) -> Option<String> {
    let why = match action {
        "fetch:cookiecutter" => {
            "`fetch:cookiecutter` runs the cookiecutter engine, which plat does not run (the same \
             skeleton usually renders with `fetch:template` and `cookiecutterCompat: true`)"
        }
        "fetch:rails" => "`fetch:rails` runs `rails new`, an engine plat does not run",
        "catalog:fetch" | "catalog:query" | "http:backstage:request" | "catalog:timestamping" => {
            "this action asks a running Backstage's API, which `plat scaffold run` does not call"
        }
        other
            if other.starts_with("github:")
                || other.starts_with("gitlab:")
                || other.starts_with("bitbucket")
                || other.starts_with("azure:")
                || other.starts_with("argocd:") =>
        {
            "this action calls a forge or deployment API that plat does not drive"
        }
        _ => return None,
    };
    Some(why.to_owned())
}

/// What Backstage's dry run gives a step it does not run: `generateExampleOutput` of the
/// action's output schema (scaffolder-backend 4.3.0, the GitHub and GitLab modules).
fn example_output(action: &str) -> Option<Value> {
    Some(match action {
        "catalog:register" => json!({}),
        "publish:github" => json!({
            "remoteUrl": "<example>", "repoContentsUrl": "<example>", "commitHash": "<example>"
        }),
        "publish:github:pull-request" => json!({
            "targetBranchName": "<example>", "remoteUrl": "<example>", "pullRequestNumber": 0
        }),
        "publish:gitlab" => json!({
            "remoteUrl": "<example>", "repoContentsUrl": "<example>", "projectId": 0,
            "commitHash": "<example>", "created": false
        }),
        "publish:gitlab:merge-request" => json!({
            "targetBranchName": "<example>", "projectid": "<example>",
            "projectPath": "<example>", "mergeRequestUrl": "<example>"
        }),
        other if other.starts_with("publish:") => json!({}),
        _ => return None,
    })
}

/// What the handler of an action Backstage runs in its dry run outputs there, for the ones
/// plat does not run under `--no-git`/`--dry-run`: `publish:github:pull-request` (GitHub
/// module) answers with the branch, the `repoUrl` as given and pull request number 43.
fn dry_run_handler_output(action: &str, input: &Value) -> Option<Value> {
    match action {
        "publish:github:pull-request" => {
            let mut output = Map::new();
            for (from, to) in [("branchName", "targetBranchName"), ("repoUrl", "remoteUrl")] {
                if let Some(value) = input.get(from) {
                    output.insert(to.to_owned(), value.clone());
                }
            }
            output.insert("pullRequestNumber".to_owned(), json!(43));
            Some(Value::Object(output))
        }
        _ => None,
    }
}

/// Actions Backstage runs in a dry run (`supportsDryRun`); the others are simulated.
fn supports_dry_run(action: &str) -> bool {
    action.starts_with("fetch:")
        || action.starts_with("fs:")
        || action == "debug:log"
        || action == "catalog:write"
}

impl Runner<'_> {
    /// One step, in the order of Backstage's `NunjucksWorkflowRunner.executeStep`: `if` (unless
    /// `each`), the action lookup, the dry-run shortcut, `each`, then per iteration `if` and
    /// inputs, every input rendered before any handler runs.
    pub async fn run_step(
        &mut self,
        step: &Step,
        key: &str,
        context: &Value,
    ) -> Result<StepReport, ScaffoldError> {
        let mut report = StepReport {
            id: key.to_owned(),
            name: step.name.clone(),
            action: step.action.clone(),
            status: StepStatus::Completed,
            output: Value::Object(Map::new()),
            log: Vec::new(),
        };
        let render = |value: &Value, context: &Value| self.engine.render_step_value(value, context);
        let skipped_by_if = match &step.condition {
            Some(Value::Bool(false)) => true,
            Some(condition @ Value::String(_)) if step.each.is_none() => {
                !render(condition, context)
                    .as_ref()
                    .is_some_and(crate::expr::is_truthy)
            }
            _ => false,
        };
        if skipped_by_if {
            report.status = StepStatus::Skipped;
            report.log.push("skipped: its `if` is false".to_owned());
            return Ok(report);
        }
        if !KNOWN_ACTIONS.contains(&step.action.as_str()) && example_output(&step.action).is_none()
        {
            return Err(ScaffoldError::UnknownAction {
                step: step_label(key, step),
                action: step.action.clone(),
            });
        }
        let has_dry_run_handler = dry_run_handler_output(&step.action, &json!({})).is_some();
        if let Some(example) = example_output(&step.action)
            && !supports_dry_run(&step.action)
            && !(has_dry_run_handler && (self.options.skip_publish || self.options.dry_run))
        {
            // `--no-git` skips remote steps; `--dry-run` lets plat's own actions describe what
            // they would do. Either way later steps see Backstage's example outputs.
            if self.options.skip_publish && !self.options.dry_run {
                report.status = StepStatus::Skipped;
                report.output = example;
                report.log.push(format!(
                    "skipped `{}` (--no-git); later steps see example outputs",
                    step.action
                ));
                return Ok(report);
            }
            if self.options.dry_run {
                report.status = StepStatus::Simulated;
                report.output = example;
                if KNOWN_ACTIONS.contains(&step.action.as_str()) {
                    let input = render(&step.input, context).unwrap_or_else(|| json!({}));
                    match self.dispatch(step, &input).await {
                        // What plat can predict (the repository URL) beats `<example>`.
                        Ok(outcome) => {
                            if let Some(output) = report.output.as_object_mut() {
                                output.extend(outcome.output);
                            }
                            report.log = outcome.log;
                        }
                        Err(err) => report.log.push(format!("a real run would fail: {err}")),
                    }
                }
                report.log.push(format!(
                    "simulated `{}` (dry run); later steps see example outputs",
                    step.action
                ));
                return Ok(report);
            }
        }
        if !KNOWN_ACTIONS.contains(&step.action.as_str()) {
            return Err(ScaffoldError::UnknownAction {
                step: step_label(key, step),
                action: step.action.clone(),
            });
        }
        let Some(each) = &step.each else {
            let input = render(&step.input, context).unwrap_or_else(|| json!({}));
            let outcome = self.invoke(step, &input).await?;
            report.output = Value::Object(outcome.output);
            report.log = outcome.log;
            if outcome.simulated {
                report.status = StepStatus::Simulated;
            } else if outcome.skipped {
                report.status = StepStatus::Skipped;
            }
            return Ok(report);
        };
        let entries: Vec<(Value, Value)> = match render(each, context) {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| (json!(index.to_string()), item))
                .collect(),
            Some(Value::Object(entries)) => entries
                .into_iter()
                .map(|(key, item)| (Value::String(key), item))
                .collect(),
            None => {
                return Err(invalid(format!(
                    "Invalid value on action {}.each parameter, \"{}\" cannot be resolved to a value",
                    step.action,
                    each.as_str().unwrap_or_default()
                )));
            }
            Some(_) => {
                return Err(invalid(format!(
                    "Invalid value on action {}.each parameter, must resolve to an array or object",
                    step.action
                )));
            }
        };
        let mut iterations = Vec::new();
        for (entry_key, entry_value) in entries {
            let mut iteration = context.clone();
            if let Some(map) = iteration.as_object_mut() {
                map.insert(
                    "each".into(),
                    json!({"key": entry_key, "value": entry_value}),
                );
            }
            let should_run = match &step.condition {
                None => true,
                Some(condition) if !crate::expr::is_truthy(condition) => false,
                Some(condition) => render(condition, &iteration)
                    .as_ref()
                    .is_some_and(crate::expr::is_truthy),
            };
            let input = render(&step.input, &iteration).unwrap_or_else(|| json!({}));
            iterations.push((should_run, input));
        }
        // Backstage collects each output name into one array across iterations.
        let mut outputs: Map<String, Value> = Map::new();
        let mut ran_any = false;
        for (should_run, input) in iterations {
            if !should_run {
                continue;
            }
            let outcome = self.invoke(step, &input).await?;
            ran_any = true;
            if outcome.simulated {
                report.status = StepStatus::Simulated;
            } else if outcome.skipped {
                report.status = StepStatus::Skipped;
            }
            report.log.extend(outcome.log);
            for (name, value) in outcome.output {
                if let Value::Array(values) = outputs.entry(name).or_insert_with(|| json!([])) {
                    values.push(value);
                }
            }
        }
        if !ran_any {
            report.status = StepStatus::Skipped;
        }
        report.output = Value::Object(outputs);
        Ok(report)
    }

    /// Runs the action, or under `--no-git`/`--dry-run` what Backstage's own dry run runs in
    /// its place for the publishing actions whose handler supports it.
    async fn invoke(&mut self, step: &Step, input: &Value) -> Result<Outcome, ScaffoldError> {
        if (self.options.skip_publish || self.options.dry_run)
            && let Some(Value::Object(output)) = dry_run_handler_output(&step.action, input)
        {
            if self.options.dry_run {
                // plat's own description of the change (its log), with the outputs Backstage's
                // dry run gives, so that later steps render the same.
                let mut outcome = self.dispatch(step, input).await?;
                outcome.output = output;
                return Ok(outcome);
            }
            return Ok(Outcome {
                output,
                log: vec![format!(
                    "skipped `{}` ({}): nothing was published; later steps see the outputs \
                     Backstage's dry run gives",
                    step.action,
                    if self.options.dry_run {
                        "--dry-run"
                    } else {
                        "--no-git"
                    }
                )],
                simulated: self.options.dry_run,
                skipped: !self.options.dry_run,
            });
        }
        self.dispatch(step, input).await
    }

    async fn dispatch(&mut self, step: &Step, input: &Value) -> Result<Outcome, ScaffoldError> {
        match step.action.as_str() {
            "fetch:template" => self.fetch_template(input),
            "fetch:plain" => self.fetch_plain(input),
            "fetch:plain:file" => self.fetch_file(input, false),
            "fetch:template:file" => self.fetch_file(input, true),
            "fs:rename" => self.fs_rename(input),
            "fs:delete" => self.fs_delete(input),
            "debug:log" => self.debug_log(input),
            "catalog:write" => self.catalog_write(input),
            "catalog:register" => self.catalog_register(input).await,
            "publish:git" => self.publish_git(step, input),
            "publish:github" => self.publish_github(step, input).await,
            "publish:github:pull-request" => self.publish_github_pull_request(step, input).await,
            "publish:gitlab" => self.publish_gitlab(step, input).await,
            "publish:gitlab:merge-request" => self.publish_gitlab_merge_request(step, input).await,
            other => Err(ScaffoldError::UnknownAction {
                step: String::new(),
                action: other.to_owned(),
            }),
        }
    }

    /// Skeleton URLs are relative to the template; remote readers are not available offline.
    fn source_path(&self, url: &str) -> Result<PathBuf, ScaffoldError> {
        if url.contains("://") {
            return Err(invalid(format!(
                "url `{url}`: only paths relative to the template are supported offline; \
                 keep the skeleton next to template.yaml"
            )));
        }
        // Backstage's resolveSafeChildPath: real paths, symlinks followed, and the result must
        // stay below the root; so must ours, or `url: /etc` copies the host into the project.
        let escape = || ScaffoldError::SourceEscape {
            url: url.to_owned(),
            root: self.source_root.to_path_buf(),
        };
        if Path::new(url).is_absolute() {
            return Err(escape());
        }
        let path = self.template_dir.join(url);
        let real = match path.canonicalize() {
            Ok(real) => real,
            Err(_) if !lexically_inside(self.source_root, &path) => return Err(escape()),
            Err(_) => {
                return Err(invalid(format!(
                    "url `{url}`: {} does not exist",
                    path.display()
                )));
            }
        };
        let root = self
            .source_root
            .canonicalize()
            .unwrap_or_else(|_| self.source_root.to_path_buf());
        if !real.starts_with(&root) {
            return Err(escape());
        }
        Ok(path)
    }

    fn target_path(&self, input: &Value) -> Result<(PathBuf, PathBuf), ScaffoldError> {
        let relative = string(input, "targetPath").unwrap_or("./");
        let absolute = render::safe_join(self.workspace, relative)?;
        let normalized = absolute
            .strip_prefix(self.workspace)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok((absolute, normalized))
    }

    fn fetch_template(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let source = self.source_path(required(input, "url")?)?;
        let (_, target) = self.target_path(input)?;
        // Backstage's fetch:template no longer reads `copyWithoutRender` (only
        // `copyWithoutTemplating`): its files are rendered, so plat renders them too and says so.
        let ignored_copy_without_render = !strings(input, "copyWithoutRender")?.is_empty();
        let copy_without_templating = strings(input, "copyWithoutTemplating")?;
        let template_extension = match input.get("templateFileExtension") {
            Some(Value::Bool(true)) => Some(".njk".to_owned()),
            Some(Value::String(ext)) if !ext.is_empty() => Some(if ext.starts_with('.') {
                ext.clone()
            } else {
                format!(".{ext}")
            }),
            _ => None,
        };
        let cookiecutter_compat = flag(input, "cookiecutterCompat");
        if template_extension.is_some()
            && (!copy_without_templating.is_empty() || cookiecutter_compat)
        {
            return Err(invalid(
                "templateFileExtension cannot be combined with copyWithoutTemplating or \
                 cookiecutterCompat",
            ));
        }
        let options = SkeletonOptions {
            values: input.get("values").cloned().unwrap_or_else(|| json!({})),
            copy_without_templating: (!copy_without_templating.is_empty())
                .then(|| render::glob_set(&copy_without_templating))
                .transpose()?,
            cookiecutter_compat,
            template_extension,
            replace: flag(input, "replace"),
            trim_blocks: flag(input, "trimBlocks"),
            lstrip_blocks: flag(input, "lstripBlocks"),
            plain: false,
        };
        let written =
            render::copy_skeleton(self.engine, &source, self.workspace, &target, &options)?;
        let mut log = vec![format!("rendered {} files", written.len())];
        if ignored_copy_without_render {
            log.push(
                "warning: copyWithoutRender is ignored (as Backstage ignores it): those files \
                 were rendered; use copyWithoutTemplating to copy them as they are"
                    .to_owned(),
            );
        }
        Ok(Outcome {
            log,
            ..Outcome::default()
        })
    }

    fn fetch_plain(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let source = self.source_path(required(input, "url")?)?;
        let (_, target) = self.target_path(input)?;
        let options = SkeletonOptions {
            plain: true,
            replace: true,
            ..SkeletonOptions::default()
        };
        let written = if source.is_dir() {
            render::copy_skeleton(self.engine, &source, self.workspace, &target, &options)?
        } else {
            return Err(invalid(
                "fetch:plain needs a directory; use fetch:plain:file for a file",
            ));
        };
        Ok(Outcome {
            log: vec![format!("copied {} files", written.len())],
            ..Outcome::default()
        })
    }

    fn fetch_file(&mut self, input: &Value, templated: bool) -> Result<Outcome, ScaffoldError> {
        let url = required(input, "url")?;
        let source = self.source_path(url)?;
        let target = render::safe_join(self.workspace, required(input, "targetPath")?)?;
        if target.exists() && templated && !flag(input, "replace") {
            return Ok(Outcome {
                log: vec![format!("kept existing {}", target.display())],
                ..Outcome::default()
            });
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_error(format!("create {}", parent.display())))?;
        }
        let values = input.get("values").cloned().unwrap_or_else(|| json!({}));
        let cookiecutter = flag(input, "cookiecutterCompat");
        let context = if cookiecutter {
            json!({ "cookiecutter": values })
        } else {
            json!({ "values": values })
        };
        let render_options = crate::expr::RenderOptions {
            syntax: if cookiecutter {
                crate::expr::Syntax::Jinja
            } else {
                crate::expr::Syntax::Backstage
            },
            trim_blocks: flag(input, "trimBlocks"),
            lstrip_blocks: flag(input, "lstripBlocks"),
            file: Some(url),
        };
        render::write_file(
            self.engine,
            &source,
            &target,
            templated.then_some((&context, render_options)),
        )?;
        Ok(Outcome::default())
    }

    fn fs_rename(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let files = input
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("input `files` must be a list of {from, to}"))?;
        let mut log = Vec::new();
        for file in files {
            let from = required(file, "from")?;
            let to = required(file, "to")?;
            let source = render::safe_join(self.workspace, from)?;
            let destination = render::safe_join(self.workspace, to)?;
            if source.symlink_metadata().is_err() {
                return Err(invalid(format!("fs:rename: `{from}` does not exist")));
            }
            if destination.exists() && !flag(file, "overwrite") {
                return Err(invalid(format!(
                    "fs:rename: `{to}` exists; set overwrite: true to replace it"
                )));
            }
            if let Some(parent) = destination.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io_error(format!("create {}", parent.display())))?;
            }
            std::fs::rename(&source, &destination)
                .map_err(io_error(format!("rename {from} to {to}")))?;
            log.push(format!("renamed {from} to {to}"));
        }
        Ok(Outcome {
            log,
            ..Outcome::default()
        })
    }

    fn fs_delete(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let patterns = strings(input, "files")?;
        for pattern in &patterns {
            // A pattern naming a path outside the workspace is an error, not a no-op.
            if !pattern.contains(['*', '?', '[', '{']) {
                render::safe_join(self.workspace, pattern)?;
            } else if pattern.starts_with('/') || pattern.split('/').any(|s| s == "..") {
                return Err(ScaffoldError::PathEscape {
                    path: pattern.clone(),
                });
            }
        }
        let globs = render::glob_set(&patterns)?;
        let mut matched: Vec<PathBuf> = walkdir::WalkDir::new(self.workspace)
            .min_depth(1)
            .into_iter()
            .flatten()
            .filter(|entry| {
                entry
                    .path()
                    .strip_prefix(self.workspace)
                    .ok()
                    .and_then(Path::to_str)
                    .is_some_and(|relative| globs.is_match(relative))
            })
            .map(|entry| entry.path().to_path_buf())
            .collect();
        // Parents first, so deleting a directory makes its children vanish before we visit them.
        matched.sort();
        let mut log = Vec::new();
        for path in matched {
            let Ok(metadata) = path.symlink_metadata() else {
                continue;
            };
            let removal = if metadata.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removal.map_err(io_error(format!("delete {}", path.display())))?;
            log.push(format!(
                "deleted {}",
                path.strip_prefix(self.workspace).unwrap_or(&path).display()
            ));
        }
        Ok(Outcome {
            log,
            ..Outcome::default()
        })
    }

    fn debug_log(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let mut log = Vec::new();
        if let Some(message) = input.get("message") {
            let message = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned);
            tracing::info!(target: "plat::scaffold", "{message}");
            log.push(message);
        }
        let listing = match input.get("listWorkspace") {
            Some(Value::Bool(true)) => true,
            Some(Value::String(mode)) => !mode.is_empty() && mode != "false",
            _ => false,
        };
        if listing {
            log.extend(
                render::list_files(self.workspace)
                    .into_iter()
                    .map(|file| format!("workspace: {file}")),
            );
        }
        Ok(Outcome {
            log,
            ..Outcome::default()
        })
    }

    fn catalog_write(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let file = string(input, "filePath").unwrap_or("catalog-info.yaml");
        let entity = input
            .get("entity")
            .filter(|entity| entity.is_object())
            .ok_or_else(|| invalid("input `entity` must be an object"))?;
        let path = render::safe_join(self.workspace, file)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_error(format!("create {}", parent.display())))?;
        }
        // As Backstage writes it: the template recorded in the `backstage.io/source-template`
        // annotation, laid out by the `yaml` package.
        let mut entity = entity.clone();
        if let Some(record) = entity.as_object_mut() {
            let metadata = record.entry("metadata").or_insert_with(|| json!({}));
            if !metadata.is_object() {
                *metadata = json!({});
            }
            if let Some(metadata) = metadata.as_object_mut() {
                let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                if !annotations.is_object() {
                    *annotations = json!({});
                }
                if let Some(annotations) = annotations.as_object_mut() {
                    annotations.insert(
                        "backstage.io/source-template".to_owned(),
                        Value::String(self.template_ref.clone()),
                    );
                }
            }
        }
        let yaml = catalog_yaml::to_string(&entity);
        std::fs::write(&path, yaml).map_err(io_error(format!("write {file}")))?;
        Ok(Outcome {
            log: vec![format!("wrote {file}")],
            ..Outcome::default()
        })
    }

    pub(super) fn author(&self, input: &Value) -> GitAuthor {
        let default = &self.options.author;
        GitAuthor {
            name: string(input, "gitAuthorName")
                .unwrap_or(&default.name)
                .to_owned(),
            email: string(input, "gitAuthorEmail")
                .unwrap_or(&default.email)
                .to_owned(),
        }
    }

    pub(super) fn source_dir(&self, input: &Value) -> Result<PathBuf, ScaffoldError> {
        match string(input, "sourcePath") {
            Some(path) => render::safe_join(self.workspace, path),
            None => Ok(self.workspace.to_path_buf()),
        }
    }

    pub(super) fn http(&self) -> reqwest::Client {
        self.options.integrations.http.clone().unwrap_or_default()
    }

    async fn catalog_register(&mut self, input: &Value) -> Result<Outcome, ScaffoldError> {
        let catalog_info_url = match string(input, "catalogInfoUrl") {
            Some(url) => url.to_owned(),
            None => {
                let contents = required(input, "repoContentsUrl")?.trim_end_matches('/');
                let path = string(input, "catalogInfoPath").unwrap_or("/catalog-info.yaml");
                format!("{contents}/{}", path.trim_start_matches('/'))
            }
        };
        let mut output = Map::new();
        output.insert("catalogInfoUrl".into(), json!(catalog_info_url));
        let integrations = &self.options.integrations;
        let Some(backstage) = integrations.backstage_url.as_deref() else {
            return Ok(Outcome {
                output,
                log: vec![format!(
                    "no Backstage URL configured: {catalog_info_url} was not registered"
                )],
                simulated: self.options.dry_run,
                skipped: false,
            });
        };
        let endpoint = format!("{}/api/catalog/locations", backstage.trim_end_matches('/'));
        if self.options.dry_run {
            return Ok(Outcome::simulated(
                output,
                format!("would POST {{type: url, target: {catalog_info_url}}} to {endpoint}"),
            ));
        }
        let mut request = self
            .http()
            .post(&endpoint)
            .json(&json!({"type": "url", "target": catalog_info_url}));
        if let Some(token) = &integrations.backstage_token {
            request = request.bearer_auth(token);
        }
        let result = async {
            let response = request.send().await?.error_for_status()?;
            response.json::<Value>().await
        }
        .await;
        let answer = match result {
            Ok(answer) => answer,
            Err(err) if flag(input, "optional") => {
                return Ok(Outcome {
                    output,
                    log: vec![format!("registration failed and was optional: {err}")],
                    simulated: false,
                    skipped: false,
                });
            }
            Err(err) => {
                return Err(ScaffoldError::Http {
                    action: format!("register {catalog_info_url} at {endpoint}"),
                    message: err.to_string(),
                });
            }
        };
        if let Some(entity_ref) = registered_entity_ref(&answer) {
            output.insert("entityRef".into(), json!(entity_ref));
        }
        Ok(Outcome {
            output,
            log: vec![format!("registered {catalog_info_url}")],
            simulated: false,
            skipped: false,
        })
    }
}

/// The first registered entity that is not the Location itself, as `kind:namespace/name`.
fn registered_entity_ref(answer: &Value) -> Option<String> {
    let entities = answer.get("entities")?.as_array()?;
    let entity = entities
        .iter()
        .find(|e| e.get("kind").and_then(Value::as_str) != Some("Location"))
        .or_else(|| entities.first())?;
    let kind = entity.get("kind")?.as_str()?.to_ascii_lowercase();
    let metadata = entity.get("metadata")?;
    let namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = metadata.get("name")?.as_str()?;
    Some(format!("{kind}:{namespace}/{name}"))
}
