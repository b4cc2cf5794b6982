//! GitHub Actions workflow commands and files (`GITHUB_ACTIONS=true`): step outputs, the step
//! summary, and masks for secrets.

use std::io::Write;
use std::path::PathBuf;

use super::Output;
use crate::config::Env;

pub struct GithubActions {
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
}

impl GithubActions {
    pub fn detect(env: &Env) -> Option<Self> {
        env.github_actions().then(|| Self {
            output_file: env.get("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }

    /// `::add-mask::` must reach the runner before the value can appear anywhere.
    pub fn mask(&self, out: &Output, value: &str) {
        for line in value.lines().filter(|l| !l.trim().is_empty()) {
            out.stdout_line(&format!("::add-mask::{line}"));
        }
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
}
