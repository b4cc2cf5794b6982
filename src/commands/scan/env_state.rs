//! `--env NAME`: an environment's Terraform state, from the local file on the embedded
//! platform or from the server's state backend.

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::UserError;
use crate::platform::StateBackend;
use crate::scan::{self, ScanConfig, ScanError, ScanReport};

pub async fn scan(
    ctx: &Ctx,
    name: &str,
    config: &ScanConfig,
    report: &mut ScanReport,
) -> Result<()> {
    let platform = ctx.platform().await?;
    let env = platform.get_env(name).await?;
    let text = match platform.state_backend(&env) {
        None => {
            let path = crate::provision::env_dir(&ctx.dirs.data, &env).with_extension("tfstate");
            if !path.is_file() {
                return Err(UserError::new(
                    format!(
                        "environment '{name}' has no Terraform state on this machine ({} is missing)",
                        path.display()
                    ),
                    "it was provisioned elsewhere or never got as far as Terraform; `plat env show` says its status",
                )
                .into());
            }
            std::fs::read_to_string(&path).map_err(|source| ScanError::Io { path, source })?
        }
        Some(backend) => fetch(&backend).await?.ok_or_else(|| {
            UserError::new(
                format!("environment '{name}' has no Terraform state on the server yet"),
                "`plat env show` says its status; state exists once `plat env up` has run Terraform",
            )
        })?,
    };
    let source = format!("env:{name}");
    let state: Value = serde_json::from_str(&text).map_err(|e| ScanError::TfStateJson {
        source_name: source.clone(),
        message: e.to_string(),
    })?;
    scan::scan_tf_state_value(&source, &state, config, report)?;
    Ok(())
}

/// The server's Terraform `http` backend, read the way Terraform reads it; `None` when empty.
async fn fetch(backend: &StateBackend) -> Result<Option<String>> {
    let http = crate::auth::http_client(std::time::Duration::from_secs(30))
        .context("cannot build the HTTP client")?;
    let response = http
        .get(&backend.address)
        .basic_auth("plat", Some(&backend.password))
        .send()
        .await
        .with_context(|| {
            format!(
                "cannot fetch the environment's state from {}",
                backend.address
            )
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if !status.is_success() {
        anyhow::bail!("the server refused the environment's state: HTTP {status}");
    }
    Ok(Some(response.text().await?))
}
