//! `--env NAME`: an environment's Terraform state, from the local file on the embedded
//! platform or from the server's state backend.

use anyhow::Result;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::UserError;
use crate::scan::{self, ScanConfig, ScanError, ScanSink};

pub async fn scan(
    ctx: &Ctx,
    name: &str,
    config: &ScanConfig,
    report: &mut dyn ScanSink,
) -> Result<()> {
    let platform = ctx.platform().await?;
    let env = platform.get_env(name).await?;
    let text = match platform.state_backend(&env) {
        None => {
            let path = crate::provision::state_path(&ctx.dirs.data, &env);
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
        Some(backend) => crate::provision::fetch_state(&backend).await?.ok_or_else(|| {
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
