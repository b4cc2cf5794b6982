//! [`StepActions`] on top of a [`Platform`]: the same calls `plat env up/down`, `plat scaffold
//! run` and `plat scan` make, as whoever the platform handle acts for (the run's owner). The
//! platform decides: the env quota and lifetime policy, and the permissions `envs:write`,
//! `scaffold:run` and `scan:run` of the owner's groups. The CLI builds one over its platform
//! handle; a server worker can build one over `LocalPlatform` for the run's owner, with the
//! reaper's provisioner and templates (shared, hence the `Arc`s).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::actions::{
    EnvDown, EnvReady, EnvUp, Scaffold, Scaffolded, ScanSummary, ScanTarget, StepActions,
};
use super::executor::{CancelSignal, StepLog};
use crate::api::LocalWork;
use crate::iac::{CancelHandle, TemplateCatalog};
use crate::ops::env::{Down, EnvLifecycle, EnvStateKeeper, UpRequest};
use crate::platform::Platform;
use crate::provision::Provisioner;
use crate::scaffold::TemplateSearch;
use crate::scan::{ManifestOptions, ScanConfig, ScanReport};

pub struct PlatformSteps {
    pub platform: Arc<dyn Platform>,
    /// Why there is none (no Terraform/OpenTofu found) matters only to a run with env steps.
    pub provisioner: Result<Arc<Provisioner>, String>,
    pub env_templates: Arc<TemplateCatalog>,
    pub scaffold_templates: TemplateSearch,
    /// The data dir, where the embedded platform keeps env states.
    pub data_dir: std::path::PathBuf,
    /// Set on a server worker: the platform keeps env states in its database (where the
    /// server's reaper and any CLI find them), and Terraform runs on a local copy.
    pub state_keeper: Option<Arc<dyn EnvStateKeeper>>,
}

impl PlatformSteps {
    /// The env lifecycle as the run's owner; an error when no Terraform/OpenTofu was found.
    fn lifecycle(&self) -> Result<EnvLifecycle<'_>, String> {
        Ok(EnvLifecycle {
            platform: self.platform.as_ref(),
            provisioner: self.provisioner.clone()?,
            templates: self.env_templates.clone(),
            states: self.state_keeper.as_deref(),
        })
    }

    /// Scans and scaffolds touch nothing the platform stores; the platform still decides
    /// whether the run's owner may do them.
    async fn authorize(&self, work: LocalWork) -> Result<(), String> {
        self.platform.authorize(work).await.map_err(text)
    }
}

#[async_trait]
impl StepActions for PlatformSteps {
    async fn env_up(
        &self,
        request: EnvUp,
        log: &StepLog,
        stop: CancelSignal,
    ) -> Result<EnvReady, String> {
        let lifecycle = self.lifecycle()?;
        let param_values = request
            .vars
            .iter()
            .map(|(name, value)| Ok((name.clone(), serde_yaml_ng::to_value(value)?)))
            .collect::<Result<_, serde_yaml_ng::Error>>()
            .map_err(text)?;
        let started = lifecycle
            .start(UpRequest {
                name: request.name,
                template: request.template,
                params: BTreeMap::new(),
                param_values: Some(param_values),
                ttl: request.ttl,
                idempotency_key: None,
            })
            .await
            .map_err(chain)?;
        let env = started.env;
        log.line(format!(
            "provisioning environment {} from template {} (expires {})",
            env.name, env.template, env.expires_at
        ));
        let cancel = CancelHandle::new();
        let provisioned = until_stopped(
            lifecycle.provision(&env, started.template, None, &cancel),
            &cancel,
            stop,
        )
        .await
        .map_err(chain)?;
        let env = provisioned.env;
        match provisioned.outputs {
            Ok(_) => {
                log.line(format!(
                    "environment {} is ready ({} resources)",
                    env.name,
                    env.resources.len()
                ));
                Ok(EnvReady {
                    name: env.name,
                    template: env.template,
                    expires_at: env.expires_at,
                    outputs: env.outputs,
                })
            }
            Err(error) => Err(format!(
                "environment {} failed to provision (its state is kept; env.down destroys what was made): {error}",
                env.name
            )),
        }
    }

    async fn env_down(
        &self,
        name: &str,
        log: &StepLog,
        stop: CancelSignal,
    ) -> Result<EnvDown, String> {
        let lifecycle = self.lifecycle()?;
        let cancel = CancelHandle::new();
        let announce = |_: &crate::api::Env| log.line(format!("destroying environment {name}"));
        let down = until_stopped(
            lifecycle.down(name, None, &cancel, &announce),
            &cancel,
            stop,
        )
        .await
        .map_err(chain)?;
        let destroyed = match down {
            Down::Gone => {
                log.line(format!(
                    "environment {name} does not exist: nothing to destroy"
                ));
                false
            }
            Down::Destroyed(_) => {
                log.line(format!("environment {name} is destroyed"));
                true
            }
        };
        Ok(EnvDown {
            name: name.to_owned(),
            destroyed,
        })
    }

    async fn scaffold(&self, request: Scaffold, log: &StepLog) -> Result<Scaffolded, String> {
        self.authorize(LocalWork::Scaffold).await?;
        let template = self
            .scaffold_templates
            .load(&request.template)
            .map_err(text)?;
        let values =
            crate::scaffold::resolve_parameters(&template, &values_input(&request.values)?, None)
                .map_err(text)?;
        let me = self.platform.who_am_i().await.map_err(text)?;
        let local = me.user.split('@').next().unwrap_or(&me.user).to_owned();
        let options = crate::scaffold::RunOptions {
            // Publishing needs credentials of the owner that a run does not hold.
            skip_publish: true,
            user: Some(crate::scaffold::UserInfo {
                entity_ref: format!("user:default/{local}"),
                entity: serde_json::json!({"metadata": {"name": local}, "spec": {"profile": {"email": me.user}}}),
            }),
            ..crate::scaffold::RunOptions::default()
        };
        let target = std::path::absolute(&request.target).unwrap_or(request.target);
        log.line(format!(
            "rendering template {} into {}",
            template.name(),
            target.display()
        ));
        let result = crate::scaffold::run(
            &crate::expr::Engine::new(),
            &template,
            &target,
            &values,
            &options,
        )
        .await
        .map_err(text)?;
        log.line(format!("created {} files", result.files.len()));
        Ok(Scaffolded {
            path: result.target.display().to_string(),
            files: result.files,
        })
    }

    async fn scan(&self, target: ScanTarget, log: &StepLog) -> Result<ScanSummary, String> {
        self.authorize(LocalWork::Scan).await?;
        let mut report = ScanReport::new();
        match (&target.path, &target.env) {
            (Some(path), None) => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                let root = if path.is_dir() {
                    path.clone()
                } else {
                    path.parent().unwrap_or(Path::new("/")).to_path_buf()
                };
                let config = match ScanConfig::discover(&root) {
                    Some(file) => ScanConfig::load(&file).map_err(text)?,
                    None => ScanConfig::default(),
                };
                let mut options = ManifestOptions::new(&config);
                options.root = Some(root);
                log.line(format!("scanning {}", path.display()));
                crate::scan::scan_paths(&[path], &options, &mut report).map_err(text)?;
            }
            (None, Some(name)) => {
                let state = self.env_state(name).await?;
                log.line(format!("scanning the state of environment {name}"));
                crate::scan::scan_tf_state_value(
                    &format!("env:{name}"),
                    &state,
                    &ScanConfig::default(),
                    &mut report,
                )
                .map_err(text)?;
            }
            _ => return Err("the scan action needs exactly one of `path` or `env`".into()),
        }
        report.finish();
        let counts = report.counts();
        for finding in &report.findings {
            log.line(format!(
                "{} {} {}:{} {}",
                finding.severity.as_str(),
                finding.rule_id,
                finding.location.file,
                finding.location.line,
                finding.message
            ));
        }
        Ok(ScanSummary {
            resources: report.resources.len(),
            counts,
        })
    }
}

impl PlatformSteps {
    /// An env's Terraform state: the local file on the embedded platform, else the server's.
    async fn env_state(&self, name: &str) -> Result<Value, String> {
        let env = self.platform.get_env(name).await.map_err(text)?;
        let state = match self.platform.state_backend(&env) {
            None => {
                let path = crate::provision::state_path(&self.data_dir, &env);
                std::fs::read_to_string(&path).map(Some).map_err(|err| {
                    format!(
                        "environment '{name}' has no Terraform state on this machine ({}: {err})",
                        path.display()
                    )
                })?
            }
            Some(backend) => crate::provision::fetch_state(&backend)
                .await
                .map_err(|err| format!("{err:#}"))?,
        };
        let state =
            state.ok_or_else(|| format!("environment '{name}' has no Terraform state yet"))?;
        serde_json::from_str(&state)
            .map_err(|err| format!("the state of environment '{name}' is not JSON: {err}"))
    }
}

/// Runs Terraform to its end, passing a stop of the step on as Terraform's own cancel (SIGINT:
/// it stops cleanly, writes its state and releases its lock).
async fn until_stopped<T>(
    terraform: impl std::future::Future<Output = T>,
    cancel: &CancelHandle,
    mut stop: CancelSignal,
) -> T {
    tokio::pin!(terraform);
    tokio::select! {
        result = &mut terraform => return result,
        () = stop.cancelled() => cancel.cancel(),
    }
    terraform.await
}

/// Values as if they came from a values file, so the template's schema coerces them.
fn values_input(values: &Map<String, Value>) -> Result<crate::scaffold::ParameterInput, String> {
    let mut input = crate::scaffold::ParameterInput::default();
    if !values.is_empty() {
        let yaml = serde_yaml_ng::to_string(values).map_err(text)?;
        input
            .add_values_yaml(&yaml, "scaffold values")
            .map_err(text)?;
    }
    Ok(input)
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// An operation's error with its causes, as one log line.
fn chain(err: anyhow::Error) -> String {
    format!("{err:#}")
}
