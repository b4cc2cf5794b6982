//! Template repositories: Git URLs (`URL[#ref[:subdir]]`) whose `env/` and `scaffold/`
//! directories join the built-in templates and `PLAT_TEMPLATE_PATH`. Each is cloned once into
//! the data dir's cache and reused while fresh, so listing templates or destroying an
//! environment does not need the network every time, and works offline from the last clone.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// Where a command's templates come from, in search order: `PLAT_TEMPLATE_PATH`, the template
/// repositories (`PLAT_TEMPLATE_REPOS`, the context's `template_repos`), then the built-ins.
/// Repositories are fetched (and their failures warned about) at most once per command, and
/// only when a command looks templates up.
pub struct TemplateSources {
    template_path: Option<String>,
    repo_specs: Vec<String>,
    refresh: Option<String>,
    cache: PathBuf,
    out: crate::output::Output,
    checkouts: OnceLock<Vec<PathBuf>>,
}

impl TemplateSources {
    pub fn new(
        env: &crate::config::Env,
        context: &crate::config::ContextConfig,
        dirs: &crate::config::Dirs,
        out: &crate::output::Output,
    ) -> Self {
        Self {
            template_path: env.get("PLAT_TEMPLATE_PATH").map(str::to_owned),
            repo_specs: specs(env.get("PLAT_TEMPLATE_REPOS"), &context.template_repos),
            refresh: env.get("PLAT_TEMPLATE_REFRESH").map(str::to_owned),
            cache: dirs.data.join("cache/template-repos"),
            out: out.clone(),
            checkouts: OnceLock::new(),
        }
    }

    /// The directories holding templates of `kind` (`env`, `scaffold`), in search order.
    pub fn roots(&self, kind: &str) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self
            .template_path
            .as_deref()
            .map(|paths| std::env::split_paths(paths).map(|p| p.join(kind)).collect())
            .unwrap_or_default();
        roots.extend(
            self.checkouts
                .get_or_init(|| self.checkout_all())
                .iter()
                .map(|dir| dir.join(kind)),
        );
        roots.push(builtin_templates().join(kind));
        roots
    }

    /// Each repository from its cached clone. One that cannot be fetched is left out with a
    /// warning, so the other templates (and destroying what exists) keep working offline.
    fn checkout_all(&self) -> Vec<PathBuf> {
        if self.repo_specs.is_empty() {
            return Vec::new();
        }
        let max_age = match self.refresh.as_deref() {
            Some("0") => Duration::ZERO,
            Some(text) => match crate::iac::parse_duration(text) {
                Ok(age) => age.unsigned_abs(),
                Err(err) => {
                    self.out
                        .warn(&format!("ignoring PLAT_TEMPLATE_REFRESH: {err}"));
                    DEFAULT_MAX_AGE
                }
            },
            None => DEFAULT_MAX_AGE,
        };
        let mut dirs = Vec::new();
        for spec in &self.repo_specs {
            match checkout(&self.cache, spec, max_age) {
                Ok(checkout) => {
                    if let Some(problem) = checkout.stale_because {
                        self.out.warn(&format!(
                            "using the last clone of template repository {spec}: {problem}"
                        ));
                    }
                    dirs.push(checkout.dir);
                }
                Err(problem) => self
                    .out
                    .warn(&format!("skipping template repository {spec}: {problem}")),
            }
        }
        dirs
    }
}

/// Built-in templates ship in the source tree next to the crate (`templates/`); a binary installed
/// elsewhere finds more through `PLAT_TEMPLATE_PATH`.
fn builtin_templates() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
}

/// The env templates of a command's sources, discovered once, on first use: the embedded
/// platform's service reads their limits only when an env starts, and the env lifecycle of the
/// same command shares the same catalog.
pub struct EnvCatalog {
    sources: Arc<TemplateSources>,
    catalog: OnceLock<Arc<crate::iac::TemplateCatalog>>,
}

impl EnvCatalog {
    pub fn new(sources: Arc<TemplateSources>) -> Self {
        Self {
            sources,
            catalog: OnceLock::new(),
        }
    }

    /// The catalog; a discovery that fails is not remembered, so its error reaches every caller.
    pub fn catalog(&self) -> Result<Arc<crate::iac::TemplateCatalog>, crate::iac::IacError> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog.clone());
        }
        let found = Arc::new(crate::iac::TemplateCatalog::discover(
            &self.sources.roots("env"),
        )?);
        Ok(self.catalog.get_or_init(|| found).clone())
    }
}

impl EnvCatalog {
    fn discovered(&self) -> crate::service::Result<Arc<crate::iac::TemplateCatalog>> {
        self.catalog().map_err(|err| {
            crate::service::Error::internal(format!("cannot read the environment templates: {err}"))
        })
    }
}

impl crate::service::envs::EnvTemplates for EnvCatalog {
    fn ttl_limits(
        &self,
        template: &str,
    ) -> crate::service::Result<crate::service::envs::TtlLimits> {
        self.discovered()?.ttl_limits(template)
    }
    fn approval_required(&self, template: &str) -> crate::service::Result<bool> {
        self.discovered()?.approval_required(template)
    }

    fn cost(
        &self,
        template: &str,
        params: &serde_json::Value,
    ) -> crate::service::Result<crate::service::spend::TemplateCost> {
        match self.catalog() {
            Ok(catalog) => catalog.cost(template, params),
            Err(err) => Err(crate::service::Error::internal(format!(
                "cannot read the environment templates: {err}"
            ))),
        }
    }
}

/// A clone younger than this is used as it is (`PLAT_TEMPLATE_REFRESH` overrides).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Written into a checkout once it is complete; its mtime says when it was fetched.
const FETCHED_MARKER: &str = ".plat-fetched";

/// A repository's templates on disk, and what went wrong refreshing them, if anything.
#[derive(Debug)]
pub struct Checkout {
    /// The repository's directory (its `subdir` when the spec names one).
    pub dir: PathBuf,
    /// Set when a refresh failed and an older clone is used instead.
    pub stale_because: Option<String>,
}

/// The specs of `PLAT_TEMPLATE_REPOS` (whitespace-separated) followed by the context's.
pub fn specs(env_value: Option<&str>, configured: &[String]) -> Vec<String> {
    env_value
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .chain(configured.iter().cloned())
        .collect()
}

/// The checkout of `spec` under `cache`, cloned or refreshed when missing or older than
/// `max_age`. A pinned commit (`#<40 hex digits>`) never changes, so it is never refreshed.
pub fn checkout(cache: &Path, spec: &str, max_age: Duration) -> Result<Checkout, String> {
    let (url, git_ref, subdir) = crate::scaffold::split_git_spec(spec);
    let key: String = Sha256::digest(format!("{url}#{}", git_ref.as_deref().unwrap_or("")))
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let clone = cache.join(key);
    let within = |dir: PathBuf| match &subdir {
        Some(subdir) => dir.join(subdir),
        None => dir,
    };
    let pinned = git_ref
        .as_deref()
        .is_some_and(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
    let age = std::fs::metadata(clone.join(FETCHED_MARKER))
        .and_then(|meta| meta.modified())
        .ok()
        .map(|fetched| {
            SystemTime::now()
                .duration_since(fetched)
                .unwrap_or_default()
        });
    if let Some(age) = age
        && (pinned || age < max_age)
    {
        return Ok(Checkout {
            dir: within(clone),
            stale_because: None,
        });
    }
    match fetch(&url, git_ref.as_deref(), &clone) {
        Ok(()) => Ok(Checkout {
            dir: within(clone),
            stale_because: None,
        }),
        Err(problem) if age.is_some() => Ok(Checkout {
            dir: within(clone),
            stale_because: Some(problem),
        }),
        Err(problem) => Err(problem),
    }
}

/// Clones beside the current checkout, then swaps it in: a failed or interrupted fetch leaves
/// the previous clone untouched.
fn fetch(url: &str, git_ref: Option<&str>, clone: &Path) -> Result<(), String> {
    let parent = clone.parent().unwrap_or(clone);
    std::fs::create_dir_all(parent)
        .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
    let fresh = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .map_err(|err| format!("cannot create a directory in {}: {err}", parent.display()))?;
    crate::scaffold::clone_at(url, git_ref, None, fresh.path())
        .map_err(|err| format!("{:#}", anyhow::Error::from(err)))?;
    std::fs::write(fresh.path().join(FETCHED_MARKER), url)
        .map_err(|err| format!("cannot write into {}: {err}", fresh.path().display()))?;
    let previous = parent.join(format!(
        ".old-{}-{}",
        std::process::id(),
        clone.file_name().unwrap_or_default().to_string_lossy()
    ));
    let had_previous = std::fs::rename(clone, &previous).is_ok();
    std::fs::rename(fresh.keep(), clone)
        .map_err(|err| format!("cannot move the clone to {}: {err}", clone.display()))?;
    if had_previous {
        let _ = std::fs::remove_dir_all(&previous);
    }
    Ok(())
}
