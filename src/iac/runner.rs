//! Runs Terraform/OpenTofu in a per-environment work dir.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value as JsonValue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use super::events::{
    self, ChangeSummary, Diagnostic, IacCommand, IacEvent, OutputValue, Outputs, RunnerMarker,
    Severity,
};
use super::init_cache::{self, InitKey};
use super::template::Template;
use super::{IacError, Result};

/// Variables file plat writes; `*.auto.tfvars.json` is loaded by every command, so a later
/// `destroy` (possibly by the reaper on another machine) sees the same values.
pub const VARS_FILE: &str = "plat.auto.tfvars.json";
/// Backend plat imposes; an `_override` file replaces any backend the template declares.
pub const BACKEND_FILE: &str = "plat_backend_override.tf.json";
/// Raw `-json` stream of every command, appended, for `plat env logs`.
pub const LOG_FILE: &str = "plat-iac.log";
/// What the work dir's `init` was for (see [`Runner::init_key`]): a later command with the same
/// key skips `init`.
const INIT_STAMP: &str = ".terraform/plat-init-stamp";
/// The link in a work dir to the env's state dir ([`Backend::Linked`]).
pub const STATE_LINK: &str = "plat-state";
/// The state file's name in a linked state dir.
pub const LINKED_STATE_FILE: &str = "terraform.tfstate";
const STDERR_TAIL_LINES: usize = 80;
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IacFlavor {
    Terraform,
    OpenTofu,
}

impl fmt::Display for IacFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Terraform => "terraform",
            Self::OpenTofu => "tofu",
        })
    }
}

/// A Terraform or OpenTofu executable and the version it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IacBinary {
    pub path: PathBuf,
    pub flavor: IacFlavor,
    pub version: String,
}

impl IacBinary {
    #[cfg(test)]
    /// Finds the binary: `explicit` (e.g. `PLAT_IAC_BIN` or config) wins, as a path or a name
    /// looked up in `path_env`; otherwise `tofu`, then `terraform`, on `path_env` (the caller
    /// passes the `PATH` variable).
    pub async fn locate(explicit: Option<PathBuf>, path_env: Option<&OsStr>) -> Result<Self> {
        Self::probe(Self::find(explicit, path_env)?).await
    }

    fn find(explicit: Option<PathBuf>, path_env: Option<&OsStr>) -> Result<PathBuf> {
        let dirs: Vec<PathBuf> = path_env
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default();
        let path = match explicit {
            Some(explicit) => {
                let found = if explicit.components().count() > 1 {
                    is_executable(&explicit).then(|| explicit.clone())
                } else {
                    find_in(&dirs, explicit.as_os_str())
                };
                found.ok_or_else(|| IacError::BinaryNotFound {
                    searched: vec![explicit.display().to_string()],
                })?
            }
            None => ["tofu", "terraform"]
                .iter()
                .find_map(|name| find_in(&dirs, OsStr::new(name)))
                .ok_or_else(|| IacError::BinaryNotFound {
                    searched: vec!["tofu on PATH".into(), "terraform on PATH".into()],
                })?,
        };
        Ok(path)
    }

    /// Like [`IacBinary::locate`], but remembers the version in `cache_file` (e.g.
    /// `$XDG_CACHE_HOME/plat/iac-binary.json`) keyed by the binary's path, size and mtime: asking
    /// Terraform its version costs a process start (~30 ms) on every command otherwise.
    pub async fn locate_cached(
        explicit: Option<PathBuf>,
        path_env: Option<&OsStr>,
        cache_file: &Path,
    ) -> Result<Self> {
        let path = Self::find(explicit, path_env)?;
        let fingerprint = BinaryFingerprint::of(&path);
        if let Some(fingerprint) = &fingerprint
            && let Ok(bytes) = std::fs::read(cache_file)
            && let Ok(cached) = serde_json::from_slice::<CachedBinary>(&bytes)
            && cached.binary.path == path
            && &cached.fingerprint == fingerprint
        {
            return Ok(cached.binary);
        }
        let binary = Self::probe(path).await?;
        if let Some(fingerprint) = fingerprint {
            let cached = CachedBinary {
                binary: binary.clone(),
                fingerprint,
            };
            // A cache that cannot be written only costs time on the next run.
            let _ = cache_file.parent().map(std::fs::create_dir_all);
            let _ = std::fs::write(cache_file, serde_json::to_vec(&cached).expect("JSON"));
        }
        Ok(binary)
    }

    /// Runs `<path> version -json` to learn the version.
    pub async fn probe(path: PathBuf) -> Result<Self> {
        let unusable = |message: String| IacError::BinaryUnusable {
            path: path.clone(),
            message,
        };
        let mut command = Command::new(&path);
        command
            .args(["version", "-json"])
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_CLI_ARGS_version")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(VERSION_TIMEOUT, command.output())
            .await
            .map_err(|_| unusable("`version -json` did not answer within a minute".into()))?
            .map_err(|e| unusable(e.to_string()))?;
        if !output.status.success() {
            return Err(unusable(format!(
                "`version -json` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let report: JsonValue = serde_json::from_slice(&output.stdout)
            .map_err(|e| unusable(format!("`version -json` printed no JSON: {e}")))?;
        let version = report
            .get("terraform_version")
            .and_then(JsonValue::as_str)
            .ok_or_else(|| unusable("`version -json` has no terraform_version".into()))?
            .to_string();
        // OpenTofu reports the same JSON shape; its executable name is the reliable tell.
        let flavor = if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("tofu"))
        {
            IacFlavor::OpenTofu
        } else {
            IacFlavor::Terraform
        };
        Ok(Self {
            path,
            flavor,
            version,
        })
    }
}

#[derive(Serialize, serde::Deserialize)]
struct CachedBinary {
    binary: IacBinary,
    fingerprint: BinaryFingerprint,
}

#[derive(Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
struct BinaryFingerprint {
    len: u64,
    modified_unix_nanos: i128,
}

impl BinaryFingerprint {
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        let modified = jiff::Timestamp::try_from(metadata.modified().ok()?).ok()?;
        Some(Self {
            len: metadata.len(),
            modified_unix_nanos: modified.as_nanosecond(),
        })
    }
}

fn find_in(dirs: &[PathBuf], name: &OsStr) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Windows has no execute bit: a file named like the binary is it.
#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Where Terraform keeps the environment's state.
#[derive(Clone)]
pub enum Backend {
    /// A state file on this machine at a path of its own: envs made before state dirs were
    /// linked, and systems without symbolic links.
    Local { state_path: PathBuf },
    /// The env's state dir on this machine (embedded platform), outside the work dir so that a
    /// re-created work dir keeps it, reached through the work dir's [`STATE_LINK`]. Terraform's
    /// backend settings are then the same for every env, so one `init` serves every env of a
    /// template version (`init_cache`).
    Linked { state_dir: PathBuf },
    /// Terraform's `http` backend: the platform server keeps state and locks.
    Http(HttpBackend),
}

/// Settings of Terraform's `http` backend. Credentials travel in `TF_HTTP_USERNAME` /
/// `TF_HTTP_PASSWORD`, never in a file: `init` would otherwise copy them into `.terraform/`.
#[derive(Clone, Default)]
pub struct HttpBackend {
    pub address: String,
    pub lock_address: Option<String>,
    pub unlock_address: Option<String>,
    /// Defaults to Terraform's `LOCK` / `UNLOCK`.
    pub lock_method: Option<String>,
    pub unlock_method: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { state_path } => f
                .debug_struct("Local")
                .field("state_path", state_path)
                .finish(),
            Self::Linked { state_dir } => f
                .debug_struct("Linked")
                .field("state_dir", state_dir)
                .finish(),
            Self::Http(http) => f.debug_tuple("Http").field(http).finish(),
        }
    }
}

impl fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpBackend")
            .field("address", &self.address)
            .field("lock_address", &self.lock_address)
            .field("unlock_address", &self.unlock_address)
            .field("username", &self.username)
            .field(
                "password",
                &self.password.as_ref().map(|_| events::REDACTED),
            )
            .finish()
    }
}

impl Backend {
    fn config_json(&self) -> JsonValue {
        let backend = match self {
            Self::Local { state_path } => serde_json::json!({
                "local": { "path": state_path.to_string_lossy() }
            }),
            Self::Linked { .. } => serde_json::json!({
                "local": { "path": format!("{STATE_LINK}/{LINKED_STATE_FILE}") }
            }),
            Self::Http(http) => {
                let mut settings = serde_json::Map::new();
                settings.insert("address".into(), http.address.clone().into());
                let optional = [
                    ("lock_address", &http.lock_address),
                    ("unlock_address", &http.unlock_address),
                    ("lock_method", &http.lock_method),
                    ("unlock_method", &http.unlock_method),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        settings.insert(key.into(), value.clone().into());
                    }
                }
                serde_json::json!({ "http": settings })
            }
        };
        serde_json::json!({ "terraform": { "backend": backend } })
    }

    /// Where the state file is, for a backend on this machine.
    pub fn local_state_file(&self) -> Option<PathBuf> {
        match self {
            Self::Local { state_path } => Some(state_path.clone()),
            Self::Linked { state_dir } => Some(state_dir.join(LINKED_STATE_FILE)),
            Self::Http(_) => None,
        }
    }

    fn secret_env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Local { .. } | Self::Linked { .. } => Vec::new(),
            Self::Http(http) => [
                ("TF_HTTP_USERNAME", &http.username),
                ("TF_HTTP_PASSWORD", &http.password),
            ]
            .into_iter()
            .filter_map(|(key, value)| value.clone().map(|v| (key, v)))
            .collect(),
        }
    }
}

/// The variables plat passes to every template (the contract in `plat-template.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatVariables {
    pub env: String,
    pub owner: String,
    pub account: String,
    pub tenant: String,
    pub expires_at: jiff::Timestamp,
    /// Only passed when the platform configures one; templates default to `appgear.io`.
    pub label_prefix: Option<String>,
}

impl PlatVariables {
    fn to_json(&self) -> serde_json::Map<String, JsonValue> {
        let mut vars = serde_json::Map::new();
        vars.insert("plat_env".into(), self.env.clone().into());
        vars.insert("plat_owner".into(), self.owner.clone().into());
        vars.insert("plat_account".into(), self.account.clone().into());
        vars.insert("plat_tenant".into(), self.tenant.clone().into());
        vars.insert(
            "plat_expires_at".into(),
            self.expires_at
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .into(),
        );
        if let Some(prefix) = &self.label_prefix {
            vars.insert("plat_label_prefix".into(), prefix.clone().into());
        }
        vars
    }
}

/// An environment's work dir: the template copy, `plat.auto.tfvars.json`, the backend override,
/// `.terraform/` and the log.
#[derive(Debug, Clone)]
pub struct Workspace {
    dir: PathBuf,
    /// A digest of the template's files as copied: what `init` depends on in the work dir.
    template_digest: String,
}

impl Workspace {
    /// Copies `template` into `dir` (created if needed) and writes the variables file.
    /// Terraform's own leftovers in the template dir (`.terraform/`, state files) are not copied.
    pub fn create(
        dir: &Path,
        template: &Template,
        variables: &PlatVariables,
        params: &BTreeMap<String, JsonValue>,
    ) -> Result<Self> {
        crate::private_fs::private_dir(dir)
            .map_err(|e| IacError::io(format!("cannot create {}", dir.display()), e))?;
        let walker = walkdir::WalkDir::new(&template.dir)
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| !is_terraform_leftover(entry.file_name()));
        let mut digest = InitKey::default();
        for entry in walker {
            let entry = entry.map_err(|e| {
                let context = format!("cannot read template {}", template.dir.display());
                IacError::io(context, e.into())
            })?;
            let relative = entry
                .path()
                .strip_prefix(&template.dir)
                .expect("walkdir yields paths under its root");
            let target = dir.join(relative);
            digest.add(relative.to_string_lossy().as_bytes());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target)
                    .map_err(|e| IacError::io(format!("cannot create {}", target.display()), e))?;
            } else {
                let contents = std::fs::read(entry.path()).map_err(|e| {
                    IacError::io(format!("cannot read {}", entry.path().display()), e)
                })?;
                digest.add(&contents);
                std::fs::write(&target, &contents)
                    .map_err(|e| IacError::io(format!("cannot copy to {}", target.display()), e))?;
            }
        }
        let mut vars = variables.to_json();
        for (name, value) in params {
            vars.insert(name.clone(), value.clone());
        }
        write_file(
            &dir.join(VARS_FILE),
            &serde_json::to_vec_pretty(&JsonValue::Object(vars)).expect("JSON values serialize"),
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            template_digest: digest.finish(),
        })
    }

    /// Points the work dir's [`STATE_LINK`] at `state_dir` (created, private), for
    /// [`Backend::Linked`].
    #[cfg(unix)]
    pub fn link_state(&self, state_dir: &Path) -> Result<()> {
        crate::private_fs::private_dir(state_dir)
            .map_err(|e| IacError::io(format!("cannot create {}", state_dir.display()), e))?;
        let link = self.dir.join(STATE_LINK);
        if std::fs::read_link(&link).is_ok_and(|target| target == state_dir) {
            return Ok(());
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(state_dir, &link)
            .map_err(|e| IacError::io(format!("cannot link {}", link.display()), e))
    }

    /// An existing work dir, e.g. for `down` or the reaper.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join(VARS_FILE).is_file() {
            return Err(IacError::io(
                format!("{} is not an environment work dir", dir.display()),
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{VARS_FILE} missing")),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            template_digest: String::new(),
        })
    }

    fn pid_path(&self) -> PathBuf {
        terraform_pid_path(&self.dir)
    }

    /// Where a running Terraform writes its `stream` (stdout or stderr).
    fn output_path(&self, stream: &str) -> PathBuf {
        self.dir.join(format!(".plat-iac.{stream}"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    #[cfg(test)]
    /// Events recorded so far (for `plat env logs`).
    pub fn read_log(&self) -> Result<Vec<IacEvent>> {
        let path = self.log_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(events::parse_log(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(IacError::io(format!("cannot read {}", path.display()), e)),
        }
    }
}

fn is_terraform_leftover(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name == ".terraform"
        || name == ".git"
        || name.starts_with("terraform.tfstate")
        || name == VARS_FILE
        || name == BACKEND_FILE
        || name == LOG_FILE
        || name == STATE_LINK
}

/// Variables and backend settings may carry secrets: the workspace's files are the owner's only.
fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    crate::private_fs::write_private(path, contents)
        .map_err(|e| IacError::io(format!("cannot write {}", path.display()), e))
}

/// Cancels a running command: the first [`CancelHandle::cancel`] sends SIGINT (Terraform stops
/// its operations, saves state and releases its lock), the second SIGKILL. Clones share state.
#[derive(Debug, Clone)]
pub struct CancelHandle {
    requests: Arc<watch::Sender<u8>>,
}

impl Default for CancelHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelHandle {
    pub fn new() -> Self {
        Self {
            requests: Arc::new(watch::channel(0).0),
        }
    }

    pub fn cancel(&self) {
        self.requests
            .send_modify(|count| *count = count.saturating_add(1));
    }

    pub fn is_cancelled(&self) -> bool {
        *self.requests.borrow() > 0
    }

    fn subscribe(&self) -> watch::Receiver<u8> {
        self.requests.subscribe()
    }
}

/// How commands run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The environment to start from (the caller passes `std::env::vars_os()`). Every `TF_*`
    /// variable is dropped except `TF_TOKEN_*` (registry credentials), `TF_PLUGIN_CACHE_DIR`,
    /// `TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE`, `TF_REGISTRY_*` and
    /// `TF_CLI_CONFIG_FILE` when that file exists (mirrors, credentials). Dropped on purpose:
    /// `TF_CLI_ARGS*` (would add flags), `TF_VAR_*` (would feed variables the template did not
    /// get from plat), `TF_WORKSPACE`, `TF_DATA_DIR`, `TF_HTTP_*` (would override the backend),
    /// `TF_LOG*`, `TF_REATTACH_PROVIDERS`, `TF_INPUT`, `TF_IN_AUTOMATION`.
    pub base_env: Vec<(OsString, OsString)>,
    /// Shared provider cache (`TF_PLUGIN_CACHE_DIR`), created if missing.
    pub plugin_cache_dir: Option<PathBuf>,
    /// Where the results of `init` are kept for reuse (`init_cache`), with a
    /// [`Backend::Linked`]; `None` runs `init` in every new work dir.
    pub init_cache_dir: Option<PathBuf>,
    /// Receives every event as it happens.
    pub events: Option<mpsc::UnboundedSender<IacEvent>>,
}

/// What one command reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub changes: Option<ChangeSummary>,
    /// Outputs as the `-json` stream reports them (sensitive values absent; see `Runner::outputs`).
    pub outputs: Outputs,
    /// Warnings (errors end up in `IacError::CommandFailed`).
    pub diagnostics: Vec<Diagnostic>,
    pub elapsed_ms: u64,
}

/// Runs Terraform/OpenTofu commands for one workspace.
#[derive(Debug, Clone)]
pub struct Runner {
    binary: IacBinary,
    workspace: Workspace,
    backend: Backend,
    options: RunOptions,
}

impl Runner {
    pub fn new(
        binary: IacBinary,
        workspace: Workspace,
        backend: Backend,
        options: RunOptions,
    ) -> Self {
        Self {
            binary,
            workspace,
            backend,
            options,
        }
    }

    #[cfg(test)]
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    #[cfg(test)]
    pub fn binary(&self) -> &IacBinary {
        &self.binary
    }

    /// `init -input=false -no-color -reconfigure` after writing the backend override.
    /// `-reconfigure` because the platform, not a previous run, decides where state lives.
    pub async fn init(&self, cancel: &CancelHandle) -> Result<RunSummary> {
        self.write_backend()?;
        let summary = self
            .run(
                IacCommand::Init,
                &["init", "-input=false", "-no-color", "-reconfigure"],
                cancel,
            )
            .await?;
        write_file(
            &self.workspace.dir.join(INIT_STAMP),
            self.init_key().as_bytes(),
        )?;
        Ok(summary)
    }

    /// Runs `init` unless this work dir was already initialised for the same template version,
    /// binary and backend, or another env's `init` for them is kept (then it is copied here).
    pub async fn ensure_init(&self, cancel: &CancelHandle) -> Result<Option<RunSummary>> {
        let key = self.init_key();
        let backend = self.backend_file_contents();
        let stamp = std::fs::read(self.workspace.dir.join(INIT_STAMP)).ok();
        let backend_file = std::fs::read(self.workspace.dir.join(BACKEND_FILE)).ok();
        if stamp.as_deref() == Some(key.as_bytes()) && backend_file.as_deref() == Some(&backend[..])
        {
            return Ok(None);
        }
        let shared = self.shared_init_cache();
        if let Some(cache) = shared
            && init_cache::restore(cache, &key, &self.workspace.dir)
        {
            self.write_backend()?;
            write_file(&self.workspace.dir.join(INIT_STAMP), key.as_bytes())?;
            let reused = RunnerMarker::Reused {
                command: IacCommand::Init,
            };
            RunLog::open(&self.workspace.log_path())?.marker(&reused);
            self.emit(reused.into_event());
            return Ok(None);
        }
        let summary = self.init(cancel).await?;
        if let Some(cache) = shared {
            init_cache::save(cache, &key, &self.workspace.dir);
        }
        Ok(Some(summary))
    }

    /// Changes with everything `init` depends on: the template's files, the backend settings,
    /// the binary and its plugin cache.
    fn init_key(&self) -> String {
        let mut key = InitKey::default();
        key.add(self.workspace.template_digest.as_bytes())
            .add(&self.backend_file_contents())
            .add(self.binary.path.to_string_lossy().as_bytes())
            .add(self.binary.flavor.to_string().as_bytes())
            .add(self.binary.version.as_bytes());
        if let Some(cache) = &self.options.plugin_cache_dir {
            key.add(cache.to_string_lossy().as_bytes());
        }
        key.finish()
    }

    /// The init cache, where `init`'s result is the same for every env: a linked state dir,
    /// and a work dir made from a template (whose files are in the key).
    fn shared_init_cache(&self) -> Option<&Path> {
        let shareable = matches!(self.backend, Backend::Linked { .. })
            && !self.workspace.template_digest.is_empty();
        self.options.init_cache_dir.as_deref().filter(|_| shareable)
    }

    pub async fn apply(&self, cancel: &CancelHandle) -> Result<RunSummary> {
        self.run(
            IacCommand::Apply,
            &["apply", "-json", "-auto-approve", "-input=false"],
            cancel,
        )
        .await
    }

    pub async fn destroy(&self, cancel: &CancelHandle) -> Result<RunSummary> {
        self.run(
            IacCommand::Destroy,
            &["destroy", "-json", "-auto-approve", "-input=false"],
            cancel,
        )
        .await
    }

    /// Init (if needed), apply, then read the outputs including sensitive values.
    pub async fn up(&self, cancel: &CancelHandle) -> Result<(RunSummary, Outputs)> {
        self.ensure_init(cancel).await?;
        let summary = self.apply(cancel).await?;
        let outputs = self.outputs().await?;
        Ok((summary, outputs))
    }

    /// Init (if needed), then destroy.
    pub async fn down(&self, cancel: &CancelHandle) -> Result<RunSummary> {
        self.ensure_init(cancel).await?;
        self.destroy(cancel).await
    }

    /// All outputs with their real values. With a local backend they are read from the state file
    /// (saves a Terraform start); otherwise from `output -json`, whose stdout is never logged.
    pub async fn outputs(&self) -> Result<Outputs> {
        if let Some(state_path) = self.backend.local_state_file()
            && let Some(outputs) = read_state_outputs(&state_path)
        {
            return Ok(outputs);
        }
        let mut command = self.command(&["output", "-json"]);
        let output = command
            .output()
            .await
            .map_err(|e| IacError::io(format!("cannot run {}", self.binary.path.display()), e))?;
        if !output.status.success() {
            return Err(IacError::CommandFailed {
                binary: self.binary.flavor.to_string(),
                command: IacCommand::Output,
                exit_code: output.status.code(),
                diagnostics: Vec::new(),
                stderr_tail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        serde_json::from_slice::<BTreeMap<String, OutputValue>>(&output.stdout)
            .map(Outputs)
            .map_err(|e| IacError::UnexpectedOutput {
                command: IacCommand::Output,
                message: e.to_string(),
            })
    }

    fn backend_file_contents(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.backend.config_json()).expect("JSON")
    }

    fn write_backend(&self) -> Result<()> {
        write_file(
            &self.workspace.dir.join(BACKEND_FILE),
            &self.backend_file_contents(),
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary.path);
        command
            .args(args)
            .current_dir(&self.workspace.dir)
            .env_clear()
            .envs(sanitized_env(&self.options.base_env))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // No version check phoning home: runs must work offline and start fast.
            .env("CHECKPOINT_DISABLE", "1")
            .envs(self.backend.secret_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cache) = &self.options.plugin_cache_dir {
            command.env("TF_PLUGIN_CACHE_DIR", cache);
        }
        command
    }

    /// Terraform writes its local state (sensitive outputs in clear) with the usual 0644: it is
    /// narrowed to the owner as soon as Terraform is done with it.
    fn keep_state_private(&self) {
        let dir = &self.workspace.dir;
        let mut files = vec![
            dir.join("terraform.tfstate"),
            dir.join("terraform.tfstate.backup"),
            dir.join(".terraform").join("terraform.tfstate"),
        ];
        if let Some(state_path) = self.backend.local_state_file() {
            let mut backup = state_path.clone().into_os_string();
            backup.push(".backup");
            files.extend([state_path, PathBuf::from(backup)]);
        }
        if let Err(err) = crate::private_fs::tighten_files(files.iter().map(PathBuf::as_path)) {
            tracing::warn!(error = %err, "cannot make the Terraform state private");
        }
    }

    /// A Terraform that an earlier plat started here and that outlived it (plat was killed)
    /// still holds the state: it is waited for, so that what it creates is in the state the
    /// next command (a `down` after the crash) reads.
    async fn wait_for_orphan(&self, which: IacCommand, cancel: &CancelHandle) -> Result<()> {
        let pid_path = self.workspace.pid_path();
        let Some(pid) = crate::process::read_pid(&pid_path) else {
            let _ = std::fs::remove_file(&pid_path);
            return Ok(());
        };
        if crate::process::alive(pid) {
            self.emit(IacEvent::Log {
                level: "warn".into(),
                message: format!(
                    "waiting for Terraform (pid {pid}), left running by an earlier plat, to finish"
                ),
            });
            while crate::process::alive(pid) {
                if cancel.is_cancelled() {
                    return Err(IacError::Cancelled {
                        command: which,
                        forced: false,
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let _ = std::fs::remove_file(&pid_path);
        Ok(())
    }

    fn emit(&self, event: IacEvent) {
        if let Some(events) = &self.options.events {
            let _ = events.send(event);
        }
    }

    async fn run(
        &self,
        which: IacCommand,
        args: &[&str],
        cancel: &CancelHandle,
    ) -> Result<RunSummary> {
        if cancel.is_cancelled() {
            return Err(IacError::Cancelled {
                command: which,
                forced: false,
            });
        }
        if let Some(cache) = &self.options.plugin_cache_dir {
            std::fs::create_dir_all(cache)
                .map_err(|e| IacError::io(format!("cannot create {}", cache.display()), e))?;
        }
        let mut log = RunLog::open(&self.workspace.log_path())?;
        let started = Instant::now();
        log.marker(&RunnerMarker::Started { command: which });
        self.emit(IacEvent::CommandStarted { command: which });

        self.wait_for_orphan(which, cancel).await?;
        let mut command = self.command(args);
        // Its own process group: a terminal Ctrl-C reaches plat only, and plat decides; our
        // signals then reach Terraform and its provider plugins together, as a terminal would.
        #[cfg(unix)]
        command.process_group(0);
        // Its output goes to files, not pipes: if plat dies, Terraform does not die of SIGPIPE
        // on its next line but finishes and saves its state; plat reads the files as they grow.
        let (stdout_path, stderr_path) = (
            self.workspace.output_path("stdout"),
            self.workspace.output_path("stderr"),
        );
        let output_file = |path: &Path| {
            crate::private_fs::create_private(path)
                .map_err(|e| IacError::io(format!("cannot create {}", path.display()), e))
        };
        command
            .stdout(Stdio::from(output_file(&stdout_path)?))
            .stderr(Stdio::from(output_file(&stderr_path)?));
        let mut child = command
            .spawn()
            .map_err(|e| IacError::io(format!("cannot run {}", self.binary.path.display()), e))?;
        let group = child.id();
        if let Some(pid) = child.id() {
            // The next plat to run Terraform here waits for this one if plat dies meanwhile.
            let _ = crate::private_fs::write_private(
                &self.workspace.pid_path(),
                pid.to_string().as_bytes(),
            );
        }
        let mut stdout = Tail::open(&stdout_path).await?;
        let mut stderr = Tail::open(&stderr_path).await?;
        let mut cancel_requests = cancel.subscribe();
        let mut interrupted = false;
        let mut killed = false;
        let mut summary = RunSummary::default();
        let mut errors = Vec::new();
        let mut stderr_tail = VecDeque::new();
        let mut exit = None;

        loop {
            let finished = exit.is_some();
            for line in stdout.lines(finished).await {
                log.line(&line);
                let event = events::parse_line(&line);
                match &event {
                    IacEvent::Diagnostic(d) if d.severity == Severity::Error => {
                        errors.push(d.clone())
                    }
                    IacEvent::Diagnostic(d) => summary.diagnostics.push(d.clone()),
                    IacEvent::ChangeSummary { changes, .. } => summary.changes = Some(*changes),
                    IacEvent::Outputs { outputs } => summary.outputs = outputs.clone(),
                    _ => {}
                }
                self.emit(event);
            }
            for line in stderr.lines(finished).await {
                log.marker(&RunnerMarker::Stderr {
                    message: line.clone(),
                });
                if stderr_tail.len() == STDERR_TAIL_LINES {
                    stderr_tail.pop_front();
                }
                stderr_tail.push_back(line.clone());
                self.emit(IacEvent::Log {
                    level: "error".into(),
                    message: line,
                });
            }
            if finished {
                break;
            }
            tokio::select! {
                status = child.wait() => exit = Some(status),
                () = tokio::time::sleep(OUTPUT_POLL) => {}
                changed = cancel_requests.changed(), if !killed => {
                    let requests = if changed.is_ok() { *cancel_requests.borrow_and_update() } else { 2 };
                    let kill = requests >= 2 || interrupted;
                    if let Some(group) = group {
                        crate::process::stop_group(group, kill);
                    }
                    // Without process groups to signal, Terraform itself is stopped.
                    #[cfg(not(unix))]
                    let _ = child.start_kill();
                    interrupted = true;
                    killed = kill;
                }
            }
        }
        let _ = std::fs::remove_file(self.workspace.pid_path());
        let status = exit
            .unwrap_or_else(|| Err(std::io::Error::other("no exit status")))
            .map_err(|e| {
                IacError::io(format!("cannot wait for {}", self.binary.path.display()), e)
            })?;
        self.keep_state_private();
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary.elapsed_ms = elapsed_ms;
        log.marker(&RunnerMarker::Finished {
            command: which,
            elapsed_ms,
            success: status.success() && !interrupted,
        });
        self.emit(IacEvent::CommandFinished {
            command: which,
            elapsed_ms,
            success: status.success() && !interrupted,
        });

        if interrupted {
            return Err(IacError::Cancelled {
                command: which,
                forced: killed,
            });
        }
        if !status.success() {
            if errors.is_empty() {
                let stderr_text = Vec::from(stderr_tail.clone()).join("\n");
                errors = events::parse_text_diagnostics(&stderr_text)
                    .into_iter()
                    .filter(|d| d.severity == Severity::Error)
                    .collect();
            }
            return Err(IacError::CommandFailed {
                binary: self.binary.flavor.to_string(),
                command: which,
                exit_code: status.code(),
                diagnostics: errors,
                stderr_tail: Vec::from(stderr_tail).join("\n"),
            });
        }
        Ok(summary)
    }
}

/// How often a run's output files are read while Terraform runs.
const OUTPUT_POLL: Duration = Duration::from_millis(50);

/// A file a child writes to, read as it grows.
struct Tail {
    reader: BufReader<tokio::fs::File>,
    partial: String,
}

impl Tail {
    async fn open(path: &Path) -> Result<Self> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| IacError::io(format!("cannot read {}", path.display()), e))?;
        Ok(Self {
            reader: BufReader::new(file),
            partial: String::new(),
        })
    }

    /// The complete lines written since the last call; at `end`, the unterminated rest too.
    async fn lines(&mut self, end: bool) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut chunk = String::new();
            match self.reader.read_line(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(_) => self.partial.push_str(&chunk),
            }
            if self.partial.ends_with('\n') {
                let line = std::mem::take(&mut self.partial);
                lines.push(line.trim_end_matches(['\n', '\r']).to_owned());
            }
        }
        if end && !self.partial.is_empty() {
            lines.push(std::mem::take(&mut self.partial));
        }
        lines
    }
}

/// Where a running Terraform's process id is kept in a work dir, for a later plat to find.
pub(crate) fn terraform_pid_path(work_dir: &Path) -> PathBuf {
    work_dir.join(".plat-iac.pid")
}

/// Keeps the log going even if the disk is full: a run must not fail because its log did.
struct RunLog {
    file: Option<std::fs::File>,
}

impl RunLog {
    fn open(path: &Path) -> Result<Self> {
        let file = crate::private_fs::append_private(path)
            .map_err(|e| IacError::io(format!("cannot open {}", path.display()), e))?;
        Ok(Self { file: Some(file) })
    }

    fn line(&mut self, line: &str) {
        if let Some(file) = &mut self.file
            && writeln!(file, "{line}").is_err()
        {
            tracing::warn!("cannot append to the IaC log; continuing without it");
            self.file = None;
        }
    }

    fn marker(&mut self, marker: &RunnerMarker) {
        self.line(&marker.to_log_line());
    }
}

fn sanitized_env(base: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    base.iter()
        .filter(|(key, value)| {
            let Some(key) = key.to_str() else {
                return true;
            };
            if !key.starts_with("TF_") {
                return true;
            }
            match key {
                "TF_PLUGIN_CACHE_DIR" | "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE" => true,
                "TF_CLI_CONFIG_FILE" => Path::new(value).is_file(),
                _ => key.starts_with("TF_TOKEN_") || key.starts_with("TF_REGISTRY_"),
            }
        })
        .cloned()
        .collect()
}

fn read_state_outputs(state_path: &Path) -> Option<Outputs> {
    outputs_from_state(&std::fs::read_to_string(state_path).ok()?)
}

/// The outputs (real values, with their sensitivity) held by a Terraform state document.
pub fn outputs_from_state(text: &str) -> Option<Outputs> {
    let state: JsonValue = serde_json::from_str(text).ok()?;
    // Only the format this code knows; anything else goes through `output -json`.
    if state.get("version")?.as_u64()? != 4 {
        return None;
    }
    let outputs = state.get("outputs")?.clone();
    serde_json::from_value::<BTreeMap<String, OutputValue>>(outputs)
        .ok()
        .map(Outputs)
}

#[cfg(test)]
pub(crate) fn sanitized_env_for_test(base: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    sanitized_env(base)
}
