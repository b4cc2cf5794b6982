//! Environment templates and the Terraform/OpenTofu runner behind `plat env up/down`.
//!
//! - [`template`]: discovers templates (`plat-template.yaml` + Terraform files), resolves and
//!   validates typed parameters and the lifetime (TTL).
//! - [`runner`]: finds the `tofu`/`terraform` binary, prepares a work dir per environment (template
//!   copy, variables, backend), runs `init`/`apply`/`destroy`/`output` and supports cancellation.
//! - [`events`]: typed view of Terraform's `-json` machine-readable UI stream.

pub mod cost;
pub mod events;
mod init_cache;
pub mod runner;
pub mod template;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use events::{IacCommand, IacEvent, Outputs, Severity};
pub use runner::{
    Backend, CancelHandle, HttpBackend, IacBinary, PlatVariables, RunOptions, Runner, Workspace,
    outputs_from_state,
};
pub use template::{ParamSpec, Template, TemplateCatalog, parse_duration};
// What only this module's tests reach for by its short path.
#[cfg(test)]
use {events::OutputValue, runner::IacFlavor};

pub type Result<T, E = IacError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum IacError {
    #[error("no Terraform or OpenTofu binary found (looked for {})", searched.join(", "))]
    BinaryNotFound { searched: Vec<String> },

    #[error("`{}` is not a usable Terraform/OpenTofu binary: {message}", path.display())]
    BinaryUnusable { path: PathBuf, message: String },

    #[error(
        "template `{name}` not found (known templates: {})",
        list_or_none(known)
    )]
    TemplateNotFound { name: String, known: Vec<String> },

    #[error("invalid template manifest {}: {message}", path.display())]
    InvalidTemplate { path: PathBuf, message: String },

    #[error(
        "unknown parameter `{name}` for template `{template}` (known parameters: {})",
        list_or_none(known)
    )]
    UnknownParameter {
        template: String,
        name: String,
        known: Vec<String>,
    },

    #[error("parameter `{name}` must be a {expected}, got `{value}`")]
    InvalidParameterType {
        name: String,
        expected: template::ParamType,
        value: String,
    },

    #[error("parameter `{name}`: {message}")]
    ParameterValidation { name: String, message: String },

    #[error("missing required parameter(s): {}", names.join(", "))]
    MissingParameters { names: Vec<String> },

    #[error("invalid duration `{value}`: {message}")]
    InvalidDuration { value: String, message: String },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{binary} {command}` failed (exit code {}){}", exit_code.map_or("none".to_string(), |c| c.to_string()), format_failure(diagnostics, stderr_tail))]
    CommandFailed {
        binary: String,
        command: events::IacCommand,
        exit_code: Option<i32>,
        diagnostics: Vec<events::Diagnostic>,
        /// Last lines of stderr, for failures Terraform reports outside the JSON stream.
        stderr_tail: String,
    },

    #[error("`{command}` was cancelled{}", if *forced { " and killed before it could save its state" } else { "; Terraform stopped cleanly and saved its state" })]
    Cancelled {
        command: events::IacCommand,
        /// `true` when the second cancel killed the process (state may be stale or locked).
        forced: bool,
    },

    #[error("cannot read the output of `{command}`: {message}")]
    UnexpectedOutput {
        command: events::IacCommand,
        message: String,
    },
}

impl IacError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A short suggestion for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::BinaryNotFound { .. } => Some(
                "install OpenTofu or Terraform, set PLAT_IAC_BIN to its path, or run \
                 scripts/install-terraform.sh"
                    .into(),
            ),
            Self::BinaryUnusable { .. } => {
                Some("check PLAT_IAC_BIN points to a `tofu` or `terraform` executable".into())
            }
            Self::TemplateNotFound { .. } => {
                Some("`plat env template list` shows the available templates".into())
            }
            Self::UnknownParameter { .. } | Self::MissingParameters { .. } => {
                Some("pass parameters as `--param name=value` or in `--param-file`".into())
            }
            Self::InvalidParameterType { .. } | Self::ParameterValidation { .. } => Some(
                "`plat env template show TEMPLATE` lists each parameter's type and limits".into(),
            ),
            Self::InvalidDuration { .. } => {
                Some("use a duration such as `30m`, `1h30m` or `45s`".into())
            }
            Self::CommandFailed { .. } => Some(
                "`plat env logs NAME` shows Terraform's full output; `plat env down NAME` removes \
                 what was made"
                    .into(),
            ),
            Self::Cancelled { forced: true, .. } => {
                Some("the state may be locked or stale; run `plat env down` again".into())
            }
            Self::Cancelled { forced: false, .. } => Some(
                "resources created before the interruption are in the state; `plat env down` \
                 removes them"
                    .into(),
            ),
            _ => None,
        }
    }

    /// Process exit code following ARCHITECTURE.md's table.
    pub fn exit(&self) -> crate::error::Exit {
        use crate::error::Exit;
        match self {
            Self::Cancelled { .. } => Exit::Cancelled,
            // Like every other missing value (`MissingValues`, scaffold parameters).
            Self::MissingParameters { .. } => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    /// Stable snake_case code for `-o json` error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BinaryNotFound { .. } => "iac_binary_not_found",
            Self::BinaryUnusable { .. } => "iac_binary_unusable",
            Self::TemplateNotFound { .. } => "template_not_found",
            Self::InvalidTemplate { .. } => "invalid_template",
            Self::UnknownParameter { .. } => "unknown_parameter",
            Self::InvalidParameterType { .. } => "invalid_parameter_type",
            Self::ParameterValidation { .. } => "invalid_parameter",
            Self::MissingParameters { .. } => "missing_parameters",
            Self::InvalidDuration { .. } => "invalid_duration",
            Self::Io { .. } => "io_error",
            Self::CommandFailed { .. } => "iac_failed",
            Self::Cancelled { .. } => "cancelled",
            Self::UnexpectedOutput { .. } => "iac_unexpected_output",
        }
    }

    #[cfg(test)]
    /// Diagnostics carried by a Terraform failure (empty for other errors).
    pub fn diagnostics(&self) -> &[events::Diagnostic] {
        match self {
            Self::CommandFailed { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Error diagnostics when the `-json` stream had them (apply, destroy); otherwise the end of
/// stderr, where `init` reports its errors as text.
fn format_failure(diagnostics: &[events::Diagnostic], stderr_tail: &str) -> String {
    let errors: String = diagnostics
        .iter()
        .filter(|d| d.severity == events::Severity::Error)
        .map(|d| format!("\n  {d}"))
        .collect();
    if !errors.is_empty() {
        return errors;
    }
    let lines: Vec<&str> = stderr_tail
        .lines()
        .map(|line| line.trim_start_matches(['│', '╷', '╵']).trim())
        .filter(|line| !line.is_empty())
        .collect();
    let start = lines.len().saturating_sub(12);
    lines[start..]
        .iter()
        .map(|line| format!("\n  {line}"))
        .collect()
}
