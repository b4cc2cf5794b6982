//! GitHub Actions workflow commands and files (`GITHUB_ACTIONS=true`): step outputs, the step
//! summary, masks for secrets and log folding.
//!
//! Workflow commands go to stderr: the runner reads them from both streams, and stdout carries
//! only data (`plat env up -o json > env.json` must stay valid JSON under Actions).

use std::io::Write;
use std::path::PathBuf;

use super::Output;
use crate::api::Env;
use crate::config::Env as Vars;
use crate::iac::Outputs;
use crate::output::views::plain_value;

pub struct GithubActions {
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
}

impl GithubActions {
    pub fn detect(env: &Vars) -> Option<Self> {
        env.github_actions().then(|| Self {
            output_file: env.get("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }

    /// `::add-mask::` must reach the runner before the value can appear anywhere.
    pub fn mask(&self, out: &Output, value: &str) {
        for line in value.lines().filter(|l| !l.trim().is_empty()) {
            out.stderr_line(&format!("::add-mask::{line}"));
        }
    }

    /// Folds everything written until the returned guard is dropped (a long Terraform run) under
    /// one collapsible `title` in the job log.
    pub fn group<'a>(&self, out: &'a Output, title: &str) -> LogGroup<'a> {
        out.stderr_line(&format!("::group::{}", title.replace(['\r', '\n'], " ")));
        LogGroup { out }
    }

    /// Appends `name=value` (heredoc form for multi-line values) to `$GITHUB_OUTPUT`.
    pub fn set_output(&self, name: &str, value: &str) -> std::io::Result<()> {
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        if value.contains('\n') {
            let delimiter = format!("PLAT_EOF_{}", crate::store::new_id());
            writeln!(file, "{name}<<{delimiter}\n{value}\n{delimiter}")
        } else {
            writeln!(file, "{name}={value}")
        }
    }

    pub fn append_summary(&self, markdown: &str) -> std::io::Result<()> {
        let Some(path) = &self.summary_file else {
            return Ok(());
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{markdown}")
    }

    /// A ready env for the job: name, expiry and outputs as step outputs (sensitive ones masked
    /// first) and a summary table. A retried `env up` calls this with the outputs read back from
    /// the env's state, so the job sees the same outputs and summary as after the first call.
    pub fn publish_env(&self, out: &Output, env: &Env, outputs: &Outputs) -> std::io::Result<()> {
        for value in outputs.sensitive_values() {
            self.mask(out, &plain_value(value));
        }
        self.set_output("env_name", &env.name)?;
        self.set_output("env_expires_at", &env.expires_at.to_string())?;
        self.set_output("env_status", env.status.as_str())?;
        for (name, output) in outputs.iter() {
            if let Some(value) = output.reveal() {
                self.set_output(&format!("output_{name}"), &plain_value(value))?;
            }
        }
        self.append_summary(&env_summary(env))
    }
}

impl GithubActions {
    /// An env waiting for an approver (R-GOV-2): its name and status as step outputs, and a
    /// summary that says how to approve it.
    pub fn publish_pending(&self, env: &Env) -> std::io::Result<()> {
        let deadline = env
            .approval
            .as_ref()
            .map_or(env.expires_at, |a| a.expires_at);
        self.set_output("env_name", &env.name)?;
        self.set_output("env_status", env.status.as_str())?;
        self.set_output("env_approval_expires_at", &deadline.to_string())?;
        self.append_summary(&format!(
            "### Environment `{}`: pending approval\n\n| | |\n|---|---|\n| status | {} |\n| template | {} |\n| requested by | {} |\n| decide before | {deadline} |\n\nNothing is provisioned until someone else holding `envs:approve` runs `plat env approve {}`.\n",
            env.name, env.status, env.template, env.owner, env.name
        ))
    }
}

/// Closes a `::group::` when dropped, so an early return or an error still ends the fold.
pub struct LogGroup<'a> {
    out: &'a Output,
}

impl Drop for LogGroup<'_> {
    fn drop(&mut self) {
        self.out.stderr_line("::endgroup::");
    }
}

fn env_summary(env: &Env) -> String {
    let mut summary = format!(
        "### Environment `{}`\n\n| | |\n|---|---|\n| status | {} |\n| template | {} |\n| expires | {} |\n| resources | {} |\n",
        env.name,
        env.status,
        env.template,
        env.expires_at,
        env.resources.len()
    );
    if let Some(map) = env.outputs.as_object() {
        for (name, value) in map {
            summary.push_str(&format!("| output `{name}` | {} |\n", plain_value(value)));
        }
    }
    summary
}
