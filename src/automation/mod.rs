//! Automations (DOMAIN.md section 3): the definition format (`apiVersion: plat.dev/v1`,
//! `kind: Automation`), its validation, and the in-process executor of `steps` and runners.
//!
//! The service stores definitions and run records; whoever executes a run (the CLI in embedded
//! mode or against a server) reports step by step, the way `plat env up` reports Terraform runs.

pub mod actions;
pub mod cron;
pub mod definition;
pub mod executor;
#[cfg(feature = "kube")]
pub mod kube_job;
pub mod platform_steps;
pub mod progress;
pub mod webhook;

pub use definition::{Definition, DefinitionError};
pub use executor::{CancelSignal, Executor, RunEvent, RunInfo};

/// Parses `30s`, `5m`, `1h 30m` into a positive duration, as every other duration of plat is
/// read (`iac::parse_duration`).
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let parsed = crate::iac::parse_duration(text).ok()?;
    std::time::Duration::try_from(parsed).ok()
}
