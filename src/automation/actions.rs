//! The step actions that act on the platform: `env.up`, `env.down`, `scaffold` and `scan`.
//! The executor reads their input and shapes their output; whoever runs it supplies a
//! [`StepActions`] that does the work as the run's owner, so that the platform's rules (quota,
//! permissions) apply to an automation exactly as to the owner's own commands.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::executor::{CancelSignal, StepLog};
use crate::scan::{FailOn, SeverityCounts};

#[async_trait]
pub trait StepActions: Send + Sync {
    /// Creates and provisions an environment; fails when the platform refuses or Terraform fails.
    /// When `stop` is set, Terraform is stopped cleanly and the env recorded as failed.
    async fn env_up(
        &self,
        request: EnvUp,
        log: &StepLog,
        stop: CancelSignal,
    ) -> Result<EnvReady, String>;
    /// Destroys an environment; one that does not exist is already down.
    async fn env_down(
        &self,
        name: &str,
        log: &StepLog,
        stop: CancelSignal,
    ) -> Result<EnvDown, String>;
    async fn scaffold(&self, request: Scaffold, log: &StepLog) -> Result<Scaffolded, String>;
    async fn scan(&self, target: ScanTarget, log: &StepLog) -> Result<ScanSummary, String>;
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnvUp {
    pub template: String,
    pub name: String,
    /// e.g. `45m`; the policy's default when absent.
    #[serde(default)]
    pub ttl: Option<String>,
    /// The template's parameters.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvReady {
    pub name: String,
    pub template: String,
    pub expires_at: crate::api::Timestamp,
    /// The env's Terraform outputs as the platform records them (sensitive ones redacted).
    pub outputs: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvDown {
    pub name: String,
    /// `false` when there was nothing to destroy.
    pub destroyed: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scaffold {
    pub template: String,
    pub target: PathBuf,
    #[serde(default)]
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scaffolded {
    pub path: String,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScanTarget {
    /// Manifests: a file or a directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// An environment's Terraform state.
    #[serde(default)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanSummary {
    pub resources: usize,
    pub counts: SeverityCounts,
}

#[derive(Deserialize)]
struct ScanInput {
    #[serde(flatten)]
    target: ScanTarget,
    #[serde(default)]
    fail_on: FailOn,
}

/// Runs one platform action with its rendered input; the output is what later steps read as
/// `steps.ID.output`.
pub(super) async fn execute(
    platform: &dyn StepActions,
    action: &str,
    input: &Value,
    log: &StepLog,
    stop: CancelSignal,
) -> Result<Value, (String, Value)> {
    let fail = |message: String| (message, Value::Null);
    match action {
        "env.up" => {
            let request: EnvUp = read(action, input)?;
            let ready = platform.env_up(request, log, stop).await.map_err(fail)?;
            Ok(output(&ready))
        }
        "env.down" => {
            let name = input["name"].as_str().unwrap_or_default();
            let down = platform.env_down(name, log, stop).await.map_err(fail)?;
            Ok(output(&down))
        }
        "scaffold" => {
            let request: Scaffold = read(action, input)?;
            let done = platform.scaffold(request, log).await.map_err(fail)?;
            Ok(output(&done))
        }
        "scan" => {
            let ScanInput { target, fail_on } = read(action, input)?;
            let summary = platform.scan(target, log).await.map_err(fail)?;
            let counts = summary.counts;
            let mut seen = output(&summary);
            seen["findings"] = json!(counts.error + counts.warning + counts.note);
            let reached = fail_on.reached(counts);
            if reached > 0 {
                let threshold = serde_json::to_value(fail_on).unwrap_or_default();
                return Err((
                    format!(
                        "{reached} finding(s) at or above {} ({} error, {} warning)",
                        threshold.as_str().unwrap_or("error"),
                        counts.error,
                        counts.warning
                    ),
                    seen,
                ));
            }
            Ok(seen)
        }
        other => Err(fail(format!("unknown action '{other}'"))),
    }
}

fn read<T: serde::de::DeserializeOwned>(action: &str, input: &Value) -> Result<T, (String, Value)> {
    serde_json::from_value(input.clone())
        .map_err(|err| (format!("invalid {action} input: {err}"), Value::Null))
}

fn output<T: Serialize>(result: &T) -> Value {
    serde_json::to_value(result).unwrap_or_default()
}
