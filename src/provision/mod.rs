//! Runs an environment's Terraform for `plat env` and for the reapers: picks the work dir and the
//! state backend (a local file on the embedded platform, the server's `http` backend otherwise),
//! runs the template, and hands back what the platform records. Rules live in `service/envs.rs`;
//! this module only provisions what the service already allowed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::api::{Env, EnvOutcome};
use crate::iac::{
    self, Backend, CancelHandle, HttpBackend, IacBinary, IacEvent, PlatVariables, RunOptions,
    Runner, Template, Workspace,
};
use crate::platform::StateBackend;

pub struct Provisioner {
    binary: IacBinary,
    data_dir: PathBuf,
    base_env: Vec<(OsString, OsString)>,
    /// Passed to templates as `plat_label_prefix` when it is not the default they assume.
    label_domain: Option<String>,
}

/// Everything one run needs besides the template.
pub struct RunRequest<'a> {
    pub env: &'a Env,
    pub template: &'a Template,
    pub tenant: &'a str,
    pub state: Option<StateBackend>,
    pub events: Option<mpsc::UnboundedSender<IacEvent>>,
    pub cancel: &'a CancelHandle,
}

impl Provisioner {
    pub fn new(binary: IacBinary, data_dir: PathBuf, base_env: Vec<(OsString, OsString)>) -> Self {
        Self {
            binary,
            data_dir,
            base_env,
            label_domain: None,
        }
    }

    /// The platform's label domain (`crate::labels`); templates assume the default.
    pub fn with_label_domain(mut self, domain: &str) -> Self {
        self.label_domain = (domain != crate::labels::DEFAULT_DOMAIN).then(|| domain.to_owned());
        self
    }

    /// `<data>/envs/<account>/<name>-<id>/`: the id keeps a recreated env from reusing old files.
    pub fn work_dir(&self, env: &Env) -> PathBuf {
        env_dir(&self.data_dir, env)
    }

    /// Where the `plat` provisioning an env keeps its process id while it runs. A file whose
    /// process is gone, with no Terraform still at work, is an `up` that was killed.
    pub fn up_marker_path(&self, env: &Env) -> PathBuf {
        self.work_dir(env).with_extension("up.pid")
    }

    /// Whether a Terraform started for this env (by any plat, killed or not) still runs.
    pub fn terraform_running(&self, env: &Env) -> bool {
        crate::process::read_pid(&iac::runner::terraform_pid_path(&self.work_dir(env)))
            .is_some_and(crate::process::alive)
    }

    /// Whether any `up` on this machine left a marker whose plat is gone: a look at the local
    /// `envs/<account>/` dirs, so that the common case (none) asks the platform nothing.
    pub fn any_killed_up(&self) -> bool {
        let Ok(accounts) = std::fs::read_dir(self.data_dir.join("envs")) else {
            return false;
        };
        accounts
            .flatten()
            .filter_map(|account| std::fs::read_dir(account.path()).ok())
            .flat_map(|entries| entries.flatten())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".up.pid"))
            .filter_map(|entry| crate::process::read_pid(&entry.path()))
            .any(|pid| !crate::process::alive(pid))
    }

    /// The embedded platform's state file (see [`local_state`]).
    pub fn state_path(&self, env: &Env) -> PathBuf {
        state_path(&self.data_dir, env)
    }

    /// The real outputs of an env that an earlier run provisioned, read from its state (the
    /// local file, or the server's `http` backend): a retried `env up` in CI hands the same step
    /// outputs to the job as the first. `None` when there is no state to read.
    pub async fn recorded_outputs(
        &self,
        env: &Env,
        state: Option<&StateBackend>,
    ) -> anyhow::Result<Option<iac::Outputs>> {
        let text = match state {
            Some(backend) => fetch_state(backend).await?,
            None => match std::fs::read_to_string(self.state_path(env)) {
                Ok(text) => Some(text),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => return Err(err.into()),
            },
        };
        Ok(text.as_deref().and_then(iac::outputs_from_state))
    }

    /// Provisions `env`. The run's outcome holds what the platform records (outputs redacted,
    /// resource addresses, the log); its result holds the real outputs, which only the caller's
    /// own run may see (e.g. `::add-mask::`).
    pub async fn up(&self, req: RunRequest<'_>) -> Run<iac::Outputs> {
        let log_from = self.log_offset(req.env);
        let result = self.apply(&req).await;
        Run::new(result, self.log_since(req.env, log_from))
    }

    /// Destroys `env`; the work dir is rebuilt from the template when this machine never had it
    /// (another machine's env, or the server's reaper).
    pub async fn down(&self, req: RunRequest<'_>) -> Run<()> {
        let log_from = self.log_offset(req.env);
        let result = self.destroy(&req).await;
        Run::new(
            result.map(|()| (EnvOutcome::done(), ())),
            self.log_since(req.env, log_from),
        )
    }

    async fn apply(
        &self,
        req: &RunRequest<'_>,
    ) -> Result<(EnvOutcome, iac::Outputs), iac::IacError> {
        let (runner, resources) = self.runner(req)?;
        let result = runner.up(req.cancel).await;
        // The tap ends when the runner's event sender is gone.
        drop(runner);
        let resources = resources.collect().await;
        let (_, outputs) = result?;
        let outcome = EnvOutcome {
            succeeded: true,
            outputs: redacted(&outputs),
            resources,
            error: None,
            log: None,
        };
        Ok((outcome, outputs))
    }

    async fn destroy(&self, req: &RunRequest<'_>) -> Result<(), iac::IacError> {
        let (runner, resources) = self.runner(req)?;
        let result = runner.down(req.cancel).await;
        drop(runner);
        resources.collect().await;
        result.map(|_| ())
    }

    fn runner(&self, req: &RunRequest<'_>) -> Result<(Runner, ResourceTap), iac::IacError> {
        let dir = self.work_dir(req.env);
        let variables = PlatVariables {
            env: req.env.name.clone(),
            owner: req.env.owner.clone(),
            account: req.env.account.clone(),
            tenant: req.tenant.to_owned(),
            expires_at: req.env.expires_at.as_jiff(),
            label_prefix: self.label_domain.clone(),
        };
        let params: BTreeMap<String, serde_json::Value> = req
            .env
            .params
            .as_object()
            .map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let workspace = Workspace::create(&dir, req.template, &variables, &params)?;
        let backend = match &req.state {
            None => match local_state(&self.data_dir, req.env) {
                LocalState::OwnFile(state_path) => Backend::Local { state_path },
                LocalState::LinkedDir(state_dir) => {
                    #[cfg(unix)]
                    workspace.link_state(&state_dir)?;
                    Backend::Linked { state_dir }
                }
            },
            Some(remote) => Backend::Http(HttpBackend {
                address: remote.address.clone(),
                lock_address: Some(remote.lock_address.clone()),
                unlock_address: Some(remote.unlock_address.clone()),
                lock_method: Some("POST".into()),
                unlock_method: Some("POST".into()),
                username: Some("plat".into()),
                password: Some(remote.password.clone()),
            }),
        };
        let (tap, tx) = ResourceTap::start(req.events.clone());
        let options = RunOptions {
            base_env: self.base_env.clone(),
            plugin_cache_dir: Some(self.data_dir.join("terraform-plugins")),
            init_cache_dir: Some(self.data_dir.join("cache/terraform-init")),
            events: Some(tx),
        };
        Ok((
            Runner::new(self.binary.clone(), workspace, backend, options),
            tap,
        ))
    }
}

/// One run of an env's Terraform, finished.
pub struct Run<T> {
    /// What the platform records: done or failed, with the run's log.
    pub outcome: EnvOutcome,
    /// What only the caller gets: the run's value, or why it failed.
    pub result: Result<T, iac::IacError>,
}

impl<T> Run<T> {
    fn new(result: Result<(EnvOutcome, T), iac::IacError>, log: Option<String>) -> Self {
        match result {
            Ok((outcome, value)) => Self {
                outcome: outcome.with_log(log),
                result: Ok(value),
            },
            Err(error) => Self {
                outcome: EnvOutcome::failed(&error).with_log(log),
                result: Err(error),
            },
        }
    }

    /// The outcome to record, for a caller that records only runs that succeeded (the reapers
    /// leave a failed destroy to a later retry).
    pub fn succeeded(self) -> Result<EnvOutcome, iac::IacError> {
        self.result.map(|_| self.outcome)
    }
}

/// The platform keeps at most this much of one run's log; the end is what explains a failure.
const MAX_RECORDED_LOG: u64 = 1024 * 1024;

impl Provisioner {
    /// Where the env's log ends now: what a run appends after this is that run's log.
    fn log_offset(&self, env: &Env) -> u64 {
        std::fs::metadata(log_path(&self.data_dir, env)).map_or(0, |m| m.len())
    }

    /// The log written since `offset` (its last MiB, from a line start), for the platform.
    fn log_since(&self, env: &Env, offset: u64) -> Option<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(log_path(&self.data_dir, env)).ok()?;
        let end = file.metadata().ok()?.len();
        let start = offset.max(end.saturating_sub(MAX_RECORDED_LOG));
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let text = if start > offset {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        } else {
            &text
        };
        (!text.is_empty()).then(|| text.to_owned())
    }
}

pub fn env_dir(data_dir: &Path, env: &Env) -> PathBuf {
    data_dir
        .join("envs")
        .join(&env.account)
        .join(format!("{}-{}", env.name, env.id))
}

/// Where the embedded platform keeps an env's state, outside its work dir so that a re-created
/// work dir keeps it.
pub enum LocalState {
    /// `<name>-<id>.tfstate` beside the work dir: envs an older plat made, and systems without
    /// symbolic links.
    OwnFile(PathBuf),
    /// `<name>-<id>.state/`, linked from the work dir, so that Terraform's backend settings are
    /// the same for every env and one template's `init` serves them all.
    LinkedDir(PathBuf),
}

pub fn local_state(data_dir: &Path, env: &Env) -> LocalState {
    let dir = env_dir(data_dir, env);
    let own_file = dir.with_extension("tfstate");
    if cfg!(not(unix)) || own_file.exists() {
        LocalState::OwnFile(own_file)
    } else {
        LocalState::LinkedDir(dir.with_extension("state"))
    }
}

/// The env's state file on this machine (embedded platform).
pub fn state_path(data_dir: &Path, env: &Env) -> PathBuf {
    match local_state(data_dir, env) {
        LocalState::OwnFile(path) => path,
        LocalState::LinkedDir(dir) => dir.join(iac::runner::LINKED_STATE_FILE),
    }
}

pub fn log_path(data_dir: &Path, env: &Env) -> PathBuf {
    Workspace::open(&env_dir(data_dir, env))
        .map(|w| w.log_path())
        .unwrap_or_else(|_| env_dir(data_dir, env).join("plat-iac.log"))
}

/// An env's state from the server's Terraform `http` backend, read the way Terraform reads it;
/// `None` while it is empty.
pub async fn fetch_state(backend: &StateBackend) -> anyhow::Result<Option<String>> {
    use anyhow::Context as _;
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

fn redacted(outputs: &iac::Outputs) -> serde_json::Value {
    serde_json::Value::Object(
        outputs
            .iter()
            .map(|(name, value)| (name.clone(), value.redacted()))
            .collect(),
    )
}

/// Watches the event stream for created resources while passing every event on.
struct ResourceTap {
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl ResourceTap {
    fn start(
        forward: Option<mpsc::UnboundedSender<IacEvent>>,
    ) -> (Self, mpsc::UnboundedSender<IacEvent>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<IacEvent>();
        let task = tokio::spawn(async move {
            let mut resources = Vec::new();
            while let Some(event) = rx.recv().await {
                if let IacEvent::ApplyComplete {
                    address, action, ..
                } = &event
                    && action != "delete"
                    && !resources.contains(address)
                {
                    resources.push(address.clone());
                }
                if let Some(forward) = &forward {
                    let _ = forward.send(event);
                }
            }
            resources.sort();
            resources
        });
        (Self { task }, tx)
    }

    async fn collect(self) -> Vec<String> {
        self.task.await.unwrap_or_default()
    }
}
