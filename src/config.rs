//! Everything plat reads from its surroundings, resolved once: environment variables, the
//! config/data directories and the contexts file. The rest of the code reads these structs,
//! never the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

/// The environment variables plat honours, read once at start.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    pub fn ci(&self) -> bool {
        self.is_set("CI")
    }

    pub fn github_actions(&self) -> bool {
        self.get("GITHUB_ACTIONS") == Some("true")
    }

    /// The local operator's e-mail on an embedded platform.
    pub fn operator_email(&self) -> String {
        if let Some(email) = self.get("PLAT_OPERATOR_EMAIL") {
            return email.to_owned();
        }
        let user = self
            .get("USER")
            .or_else(|| self.get("USERNAME"))
            .map(|u| u.to_ascii_lowercase())
            .filter(|u| {
                u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            })
            .unwrap_or_else(|| "operator".into());
        format!("{user}@localhost")
    }
}

#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    /// `PLAT_CONFIG_DIR` / `PLAT_DATA_DIR` win, then `XDG_*_HOME`, then the platform defaults.
    pub fn resolve(env: &Env) -> Result<Self> {
        let home = env.get("HOME").map(PathBuf::from);
        let pick = |own: &str, xdg: &str, fallback: Option<PathBuf>| -> Result<PathBuf> {
            if let Some(dir) = env.get(own) {
                return Ok(PathBuf::from(dir));
            }
            if let Some(dir) = env.get(xdg) {
                return Ok(Path::new(dir).join("plat"));
            }
            fallback
                .map(|d| d.join("plat"))
                .with_context(|| format!("cannot find a home directory; set {own}"))
        };
        Ok(Self {
            config: pick(
                "PLAT_CONFIG_DIR",
                "XDG_CONFIG_HOME",
                dirs::config_dir().or_else(|| home.clone().map(|h| h.join(".config"))),
            )?,
            data: pick(
                "PLAT_DATA_DIR",
                "XDG_DATA_HOME",
                dirs::data_dir().or_else(|| home.map(|h| h.join(".local/share"))),
            )?,
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.yaml")
    }

    pub fn embedded_database(&self) -> PathBuf {
        self.data.join("plat.db")
    }
}

/// One platform connection: where it is and whom to act as. Secrets never go here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContextConfig {
    pub name: String,
    /// `plat server` URL; absent means the embedded platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Database of the embedded platform; absent means SQLite in the data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Platform user to act as (embedded platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Account to act in when `--account` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_audience: Option<String>,
    /// Log in as the running GitHub Actions job (`plat login --github-actions`): each command
    /// asks the runner for a fresh ID token for this audience; no token is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_actions_audience: Option<String>,
    /// The refresh token lives in a 0600 file instead of the OS keyring (`--insecure-storage`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_storage: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iac_bin: Option<String>,
    /// Git repositories of templates (`URL[#ref[:subdir]]`), after `PLAT_TEMPLATE_REPOS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_repos: Vec<String>,
}

impl ContextConfig {
    /// Refuses a context that would put a secret in the config file.
    pub fn check_no_secrets(&self) -> Result<(), crate::error::UserError> {
        for url in [&self.database_url, &self.server].into_iter().flatten() {
            if crate::store::url_has_password(url) {
                return Err(crate::error::UserError::new(
                    format!(
                        "refusing to save a password in the config file ({})",
                        crate::store::redact_url(url)
                    ),
                    "leave the password out of the URL and give it through PGPASSWORD or \
                     ~/.pgpass, or pass the whole URL in PLAT_DATABASE_URL",
                ));
            }
        }
        Ok(())
    }

    /// The context as it may be shown: any password that a hand-edited file holds is masked.
    pub fn redacted(mut self) -> Self {
        for url in [&mut self.database_url, &mut self.server]
            .into_iter()
            .flatten()
        {
            *url = crate::store::redact_url(url);
        }
        self
    }

    pub fn embedded_default() -> Self {
        Self {
            name: "default".into(),
            ..Self::default()
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.server.is_some() {
            "server"
        } else {
            "embedded"
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: Vec<ContextConfig>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_yaml_ng::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Writes atomically (temp file + rename) so an interrupted write never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().context("config path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let text = serde_yaml_ng::to_string(self)?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// The contexts a user can pick, the implicit embedded default included.
    pub fn all_contexts(&self) -> Vec<ContextConfig> {
        let mut contexts = self.contexts.clone();
        if !contexts.iter().any(|c| c.name == "default") {
            contexts.insert(0, ContextConfig::embedded_default());
        }
        contexts
    }

    pub fn current_name(&self) -> &str {
        self.current_context.as_deref().unwrap_or("default")
    }

    pub fn find(&self, name: &str) -> Result<ContextConfig> {
        match self.all_contexts().into_iter().find(|c| c.name == name) {
            Some(context) => Ok(context),
            None => bail!(crate::error::UserError::new(
                format!("context '{name}' does not exist"),
                "run `plat context list` to see the contexts, or `plat context add` to make one",
            )),
        }
    }

    pub fn upsert(&mut self, context: ContextConfig) {
        match self.contexts.iter_mut().find(|c| c.name == context.name) {
            Some(existing) => *existing = context,
            None => self.contexts.push(context),
        }
    }
}
