//! `.plat/scan.yaml`: severities, required labels, label prefix, exclusions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use super::{ScanError, Severity, rules};

/// Annotation (or tag) that silences rules on one object, under the label prefix:
/// `appgear.io/ignore: PLAT004,PLAT007` (or `all`). `plat.io/ignore` is its deprecated alias.
pub const IGNORE_ANNOTATION: &str = "ignore";

pub const DEFAULT_LABEL_PREFIX: &str = crate::labels::DEFAULT_DOMAIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SeveritySetting {
    Error,
    Warning,
    Note,
    Off,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    label_prefix: Option<String>,
    required_labels: Option<Vec<String>>,
    #[serde(default)]
    severities: BTreeMap<String, SeveritySetting>,
    #[serde(default)]
    exclude: Vec<RawExclusion>,
    #[serde(default)]
    allowed_ingress_classes: Vec<String>,
    label_exempt_api_groups: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    rule: Option<String>,
    path: Option<String>,
    kind: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Exclusion {
    pub rule: Option<String>,
    pub path: Option<GlobMatcher>,
    pub kind: Option<String>,
    pub name: Option<GlobMatcher>,
}

/// Resolved scan configuration. `Default` is the reference design (prefix `appgear.io`,
/// the six platform labels, default severities).
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub label_prefix: String,
    /// Full label keys every provisioned object must carry (R-ENV-5).
    pub required_labels: Vec<String>,
    pub severity_overrides: BTreeMap<String, Option<Severity>>,
    pub exclusions: Vec<Exclusion>,
    /// Ingress classes that belong to the edge chain; an Ingress of another class is exposure.
    pub allowed_ingress_classes: Vec<String>,
    /// API groups whose objects (e.g. Argo CD Applications) need no platform labels.
    pub label_exempt_api_groups: Vec<String>,
    /// Rego policies (`--policy DIR`, `.plat/policies/`), run after the built-in rules.
    pub policies: Option<std::sync::Arc<super::policy::Policies>>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self::with_prefix(DEFAULT_LABEL_PREFIX)
    }
}

fn default_labels(prefix: &str) -> Vec<String> {
    let mut labels = vec!["app.kubernetes.io/part-of".to_string()];
    for suffix in ["tier", "suite", "topology", "workspace-id", "tenant-id"] {
        labels.push(format!("{prefix}/{suffix}"));
    }
    labels
}

impl ScanConfig {
    /// The rules an object's annotations (or tags) silence: `<prefix>/ignore`, else its
    /// deprecated alias `plat.io/ignore`.
    pub(crate) fn ignored_rules(&self, annotations: &BTreeMap<String, String>) -> Vec<String> {
        let key = format!("{}/{IGNORE_ANNOTATION}", self.label_prefix);
        annotations
            .get(&key)
            .or_else(|| {
                crate::labels::DEPRECATED_DOMAINS
                    .iter()
                    .find_map(|domain| annotations.get(&format!("{domain}/{IGNORE_ANNOTATION}")))
            })
            .map(|v| {
                v.split([',', ' '])
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            label_prefix: prefix.to_string(),
            required_labels: default_labels(prefix),
            severity_overrides: BTreeMap::new(),
            exclusions: Vec::new(),
            allowed_ingress_classes: Vec::new(),
            label_exempt_api_groups: vec![
                "argoproj.io".into(),
                "apiextensions.k8s.io".into(),
                "kustomize.config.k8s.io".into(),
            ],
            policies: None,
        }
    }

    /// `<root>/.plat/scan.yaml` if it exists.
    pub fn discover(root: &Path) -> Option<PathBuf> {
        let candidate = root.join(".plat").join("scan.yaml");
        candidate.is_file().then_some(candidate)
    }

    pub fn load(path: &Path) -> Result<Self, ScanError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ScanError::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        let prefix = raw
            .label_prefix
            .as_deref()
            .unwrap_or(DEFAULT_LABEL_PREFIX)
            .trim_end_matches('/')
            .to_string();
        let mut config = Self::with_prefix(&prefix);
        if let Some(labels) = raw.required_labels {
            // `{prefix}` lets a shared config follow a prefix change.
            config.required_labels = labels
                .into_iter()
                .map(|l| l.replace("{prefix}", &prefix))
                .collect();
        }
        for (rule, setting) in raw.severities {
            if rules::info(&rule).is_none() {
                return Err(format!("unknown rule id {rule} in severities"));
            }
            let severity = match setting {
                SeveritySetting::Error => Some(Severity::Error),
                SeveritySetting::Warning => Some(Severity::Warning),
                SeveritySetting::Note => Some(Severity::Note),
                SeveritySetting::Off => None,
            };
            config.severity_overrides.insert(rule, severity);
        }
        for raw in raw.exclude {
            if let Some(rule) = &raw.rule
                && rules::info(rule).is_none()
            {
                return Err(format!("unknown rule id {rule} in exclude"));
            }
            let glob = |pattern: &str| {
                Glob::new(pattern)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| format!("bad glob {pattern}: {e}"))
            };
            config.exclusions.push(Exclusion {
                rule: raw.rule,
                path: raw.path.as_deref().map(glob).transpose()?,
                kind: raw.kind,
                name: raw.name.as_deref().map(glob).transpose()?,
            });
        }
        config.allowed_ingress_classes = raw.allowed_ingress_classes;
        if let Some(groups) = raw.label_exempt_api_groups {
            config.label_exempt_api_groups = groups;
        }
        Ok(config)
    }

    /// Effective severity of a rule, `None` when turned off.
    pub fn severity(&self, rule_id: &str) -> Option<Severity> {
        match self.severity_overrides.get(rule_id) {
            Some(setting) => *setting,
            None => rules::info(rule_id).map(|r| r.default_severity),
        }
    }

    pub fn is_excluded(&self, rule_id: &str, file: &str, kind: &str, name: &str) -> bool {
        self.exclusions.iter().any(|ex| {
            ex.rule.as_deref().is_none_or(|r| r == rule_id)
                && ex.path.as_ref().is_none_or(|g| g.is_match(file))
                && ex
                    .kind
                    .as_deref()
                    .is_none_or(|k| k.eq_ignore_ascii_case(kind))
                && ex.name.as_ref().is_none_or(|g| g.is_match(name))
        })
    }

    pub(crate) fn label(&self, suffix: &str) -> String {
        format!("{}/{}", self.label_prefix, suffix)
    }
}
