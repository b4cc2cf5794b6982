//! The Backstage `Template` format (scaffolder.backstage.io/v1beta3) and where templates come from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ScaffoldError;
use super::git;

pub const API_VERSION: &str = "scaffolder.backstage.io/v1beta3";
pub const TEMPLATE_FILE: &str = "template.yaml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Metadata {
    /// The template's entity reference, as Backstage's `stringifyEntityRef` writes it.
    pub fn entity_ref(&self) -> String {
        format!(
            "template:{}/{}",
            self.namespace
                .as_deref()
                .unwrap_or("default")
                .to_lowercase(),
            self.name
        )
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// One JSON-Schema page or a list of pages.
    #[serde(default, deserialize_with = "one_or_many")]
    pub parameters: Vec<Value>,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// plat extension, Copier-style: shell commands run in the rendered project, only when
    /// the caller trusts the template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, rename = "if")]
    pub condition: Option<Value>,
    #[serde(default)]
    pub each: Option<Value>,
}

impl Step {
    /// Backstage addresses steps by id; unnamed ones get their position.
    pub fn key(&self, index: usize) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("step-{}", index + 1))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hook {
    pub run: String,
    #[serde(default, rename = "if")]
    pub condition: Option<Value>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(pages)) => pages,
        Some(page) => vec![page],
    })
}

/// Where a template was loaded from; recorded in `.plat-answers.yml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateOrigin {
    /// What the user named: a path, `builtin:NAME`, or a Git URL.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub git_ref: Option<String>,
    /// The commit rendered, when the template lives in Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Directory inside the repository, for Git templates not at its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
    /// For a built-in template: the plat version that shipped it, which `update` needs to
    /// rebuild the old render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plat_version: Option<String>,
}

/// The version of plat running, recorded with built-in templates.
pub const PLAT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A parsed template and the directory its relative `url`s resolve against.
#[derive(Debug)]
pub struct LoadedTemplate {
    pub template: Template,
    pub dir: PathBuf,
    pub origin: TemplateOrigin,
    // Keeps a cloned checkout alive as long as the template is used.
    _checkout: Option<tempfile::TempDir>,
}

impl LoadedTemplate {
    pub fn name(&self) -> &str {
        &self.template.metadata.name
    }
}

/// Parses a template file; YAML and schema errors name `file:line:column`.
pub fn parse_template(text: &str, file: &Path) -> Result<Template, ScaffoldError> {
    let template: Template =
        serde_yaml_ng::from_str(text).map_err(|err| ScaffoldError::TemplateYaml {
            file: file.to_path_buf(),
            line: err.location().map(|l| l.line()),
            column: err.location().map(|l| l.column()),
            message: strip_location(&err.to_string()),
        })?;
    if template.api_version != API_VERSION || template.kind != "Template" {
        return Err(ScaffoldError::TemplateYaml {
            file: file.to_path_buf(),
            line: Some(1),
            column: Some(1),
            message: format!(
                "expected apiVersion `{API_VERSION}` and kind `Template`, found `{}` / `{}`",
                template.api_version, template.kind
            ),
        });
    }
    Ok(template)
}

fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Reads `template.yaml` from a directory (or the named file).
pub fn load_local(path: &Path, origin: TemplateOrigin) -> Result<LoadedTemplate, ScaffoldError> {
    let file = if path.is_dir() {
        path.join(TEMPLATE_FILE)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| ScaffoldError::Io {
        action: format!("read template {}", file.display()),
        source,
    })?;
    let template = parse_template(&text, &file)?;
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(LoadedTemplate {
        template,
        dir,
        origin,
        _checkout: None,
    })
}

/// Where built-in templates live and where Git templates are cloned.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    /// Directory holding built-in templates as `<name>/template.yaml`.
    pub builtin_dir: Option<PathBuf>,
}

/// True for what `plat scaffold run TEMPLATE` treats as a Git URL.
pub fn is_git_url(spec: &str) -> bool {
    spec.starts_with("https://")
        || spec.starts_with("http://")
        || spec.starts_with("file://")
        || spec.starts_with("ssh://")
        || spec.starts_with("git@")
        || spec
            .split('#')
            .next()
            .is_some_and(|url| url.ends_with(".git"))
}

/// Splits `URL#ref:subdir` (both parts optional).
pub fn split_git_spec(spec: &str) -> (String, Option<String>, Option<String>) {
    let Some((url, fragment)) = spec.split_once('#') else {
        return (spec.to_owned(), None, None);
    };
    let (git_ref, subdir) = match fragment.split_once(':') {
        Some((git_ref, subdir)) => (git_ref, Some(subdir)),
        None => (fragment, None),
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    (
        url.to_owned(),
        non_empty(git_ref),
        subdir.and_then(non_empty),
    )
}

impl Locator {
    /// Resolves a directory, a template file, a built-in name, or a Git URL (`URL#ref[:subdir]`).
    pub fn load(&self, spec: &str) -> Result<LoadedTemplate, ScaffoldError> {
        if is_git_url(spec) {
            let (url, git_ref, subdir) = split_git_spec(spec);
            return self.load_git(&url, git_ref.as_deref(), None, subdir.as_deref());
        }
        let name = spec.strip_prefix("builtin:").unwrap_or(spec);
        let path = Path::new(spec);
        if !spec.starts_with("builtin:") && path.exists() {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let (commit, repo_subdir) = git::local_template_commit(&absolute);
            return load_local(
                &absolute,
                TemplateOrigin {
                    source: absolute.display().to_string(),
                    git_ref: None,
                    commit,
                    subdir: repo_subdir,
                    plat_version: None,
                },
            );
        }
        if let Some(dir) = self.builtin_path(name) {
            return load_local(
                &dir,
                TemplateOrigin {
                    source: format!("builtin:{name}"),
                    git_ref: None,
                    commit: None,
                    subdir: None,
                    plat_version: Some(PLAT_VERSION.to_owned()),
                },
            );
        }
        Err(ScaffoldError::TemplateNotFound {
            spec: spec.to_owned(),
            builtins: self.builtin_names(),
        })
    }

    fn builtin_path(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return None;
        }
        let dir = self.builtin_dir.as_ref()?.join(name);
        dir.join(TEMPLATE_FILE).is_file().then_some(dir)
    }

    pub fn builtin_names(&self) -> Vec<String> {
        let Some(root) = &self.builtin_dir else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().join(TEMPLATE_FILE).is_file())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// Loads every built-in template (for `plat scaffold list`).
    pub fn builtins(&self) -> Result<Vec<LoadedTemplate>, ScaffoldError> {
        self.builtin_names()
            .iter()
            .map(|name| self.load(&format!("builtin:{name}")))
            .collect()
    }

    /// Clones `url` and checks out `commit` (exact) or else `git_ref` (branch/tag/commit).
    pub fn load_git(
        &self,
        url: &str,
        git_ref: Option<&str>,
        commit: Option<&str>,
        subdir: Option<&str>,
    ) -> Result<LoadedTemplate, ScaffoldError> {
        let checkout = tempfile::Builder::new()
            .prefix("plat-template-")
            .tempdir()
            .map_err(|source| ScaffoldError::Io {
                action: "create a directory for the template clone".into(),
                source,
            })?;
        let resolved = git::clone_at(url, git_ref, commit, checkout.path())?;
        let dir = match subdir {
            Some(subdir) => super::render::safe_join(checkout.path(), subdir)?,
            None => checkout.path().to_path_buf(),
        };
        let mut loaded = load_local(
            &dir,
            TemplateOrigin {
                source: url.to_owned(),
                git_ref: git_ref.map(str::to_owned),
                commit: Some(resolved),
                subdir: subdir.map(str::to_owned),
                plat_version: None,
            },
        )?;
        loaded._checkout = Some(checkout);
        Ok(loaded)
    }

    /// Loads the version of a template recorded in `.plat-answers.yml` (for `update`).
    pub fn load_recorded(&self, origin: &TemplateOrigin) -> Result<LoadedTemplate, ScaffoldError> {
        // A built-in template is rebuilt from the plat that shipped it: this one, if the
        // versions agree; another version's templates are not inside this binary.
        if origin.source.starts_with("builtin:") && origin.commit.is_none() {
            return match origin.plat_version.as_deref() {
                Some(PLAT_VERSION) => self.load(&origin.source),
                recorded => Err(ScaffoldError::BuiltinVersion {
                    source_spec: origin.source.clone(),
                    recorded: recorded.unwrap_or("an unrecorded version").to_owned(),
                }),
            };
        }
        let commit = origin
            .commit
            .as_deref()
            .ok_or_else(|| ScaffoldError::NotUpdatable {
                source_spec: origin.source.clone(),
            })?;
        if is_git_url(&origin.source) {
            return self.load_git(
                &origin.source,
                origin.git_ref.as_deref(),
                Some(commit),
                origin.subdir.as_deref(),
            );
        }
        // A local template inside a Git work tree: rebuild the recorded commit's tree.
        let path = Path::new(&origin.source);
        let checkout = tempfile::Builder::new()
            .prefix("plat-template-")
            .tempdir()
            .map_err(|source| ScaffoldError::Io {
                action: "create a directory for the old template".into(),
                source,
            })?;
        git::export_commit(path, commit, checkout.path())?;
        let dir = match &origin.subdir {
            Some(subdir) => super::render::safe_join(checkout.path(), subdir)?,
            None => checkout.path().to_path_buf(),
        };
        let mut loaded = load_local(&dir, origin.clone())?;
        loaded._checkout = Some(checkout);
        Ok(loaded)
    }

    /// Loads the newest version of a recorded template: the ref's tip, or the local work tree.
    pub fn load_latest(
        &self,
        origin: &TemplateOrigin,
        git_ref: Option<&str>,
    ) -> Result<LoadedTemplate, ScaffoldError> {
        if is_git_url(&origin.source) {
            let git_ref = git_ref.or(origin.git_ref.as_deref());
            return self.load_git(&origin.source, git_ref, None, origin.subdir.as_deref());
        }
        self.load(&origin.source)
    }
}

/// Every scaffold template root that exists, in search order: the `PLAT_TEMPLATE_PATH` dirs
/// first (so a team can shadow a built-in), the templates shipped with plat last.
pub struct TemplateSearch {
    locators: Vec<Locator>,
}

impl TemplateSearch {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        let mut locators: Vec<Locator> = roots
            .into_iter()
            .filter(|root| root.is_dir())
            .map(|root| Locator {
                builtin_dir: Some(root),
            })
            .collect();
        if locators.is_empty() {
            // Paths and Git URLs still work without any built-in templates.
            locators.push(Locator::default());
        }
        Self { locators }
    }

    /// The locator of the templates shipped with plat (the last root), which `update` uses:
    /// recorded templates are paths or Git URLs, so any root would do.
    pub fn builtin(&self) -> &Locator {
        self.locators.last().unwrap_or(&self.locators[0])
    }

    /// Resolves a directory, a template file, a Git URL, or a name searched root by root.
    pub fn load(&self, spec: &str) -> Result<LoadedTemplate, ScaffoldError> {
        for locator in &self.locators {
            match locator.load(spec) {
                Err(ScaffoldError::TemplateNotFound { .. }) => continue,
                found => return found,
            }
        }
        Err(ScaffoldError::TemplateNotFound {
            spec: spec.to_owned(),
            builtins: self.names(),
        })
    }

    /// Every template name, the first root holding a name winning.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for locator in &self.locators {
            for name in locator.builtin_names() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.sort();
        names
    }

    /// Every template, loaded from the first root holding its name; broken ones are reported
    /// with the error, not hidden.
    pub fn all(&self) -> Vec<(String, Result<LoadedTemplate, ScaffoldError>)> {
        self.names()
            .into_iter()
            .map(|name| {
                let loaded = self.load(&format!("builtin:{name}"));
                (name, loaded)
            })
            .collect()
    }
}
