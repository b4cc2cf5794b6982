//! Inventory and policy checks over Kubernetes manifests, Terraform state and live clusters.
//!
//! Every input is reduced to the same two streams, [`Resource`]s (the inventory) and
//! [`Finding`]s (rule violations), delivered to a [`ScanSink`]. [`ScanReport`] is the sink that
//! keeps everything and adds cross-object relations; reporters in [`report`] turn a report into
//! table rows, JSON/YAML, SARIF, GitHub annotations or Backstage entities.

mod cloud;
pub mod config;
mod fastyaml;
#[cfg(feature = "kube")]
pub mod kube;
pub mod manifest;
pub mod policy;
pub mod report;
pub mod rules;
pub mod tfstate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use config::ScanConfig;
pub use manifest::{KustomizeRenderer, ManifestOptions, scan_manifest_reader, scan_paths};
pub use policy::Policies;
pub use rules::{RuleInfo, catalogue};
pub use tfstate::{scan_tf_state, scan_tf_state_value};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid scan configuration {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{source_name} is not valid JSON: {message}")]
    TfStateJson {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: unsupported Terraform state format {version}")]
    TfStateVersion {
        source_name: String,
        version: String,
    },
    #[error("{source_name} is neither `terraform show -json` output nor a .tfstate file")]
    TfStateShape { source_name: String },
    #[error("Kubernetes API error: {0}")]
    Kube(String),
    #[error("path does not exist: {0}")]
    NotFound(PathBuf),
    #[error("{0} is not a regular file (a device or socket): it is not read")]
    NotRegular(PathBuf),
    #[error("policy {path}: {message}")]
    Policy { path: PathBuf, message: String },
}

impl ScanError {
    /// Stable snake_case code for `-o json` error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Io { .. } => "io_error",
            ScanError::Config { .. } => "invalid_scan_config",
            ScanError::TfStateJson { .. } | ScanError::TfStateShape { .. } => "invalid_state",
            ScanError::TfStateVersion { .. } => "unsupported_state_version",
            ScanError::Kube(_) => "kube_error",
            ScanError::NotFound(_) => "not_found",
            ScanError::NotRegular(_) => "not_a_regular_file",
            ScanError::Policy { .. } => "invalid_policy",
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ScanError::TfStateVersion { .. } => Some(
                "pass `terraform show -json` output (format 0.x/1.x) or a raw state with \"version\": 4"
                    .into(),
            ),
            ScanError::TfStateShape { .. } | ScanError::TfStateJson { .. } => Some(
                "generate it with `terraform show -json > state.json` or pass the .tfstate file".into(),
            ),
            ScanError::Config { .. } => {
                Some("see `plat scan rules` for rule ids; severities are error, warning, note or off".into())
            }
            ScanError::Kube(_) => Some("check --kube-context and that the cluster is reachable".into()),
            ScanError::NotFound(_) => Some("pass files or directories that exist".into()),
            ScanError::NotRegular(_) => Some(
                "pass manifest files or directories; to scan a stream, pipe it to `plat scan -`".into(),
            ),
            ScanError::Policy { .. } => Some(
                "policies are Rego v1 in conftest's layout: `package main`, rules named deny/warn/violation[_suffix]".into(),
            ),
            ScanError::Io { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The `--fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Never,
}

impl FailOn {
    /// How many findings of `counts` reach this threshold: any, and `plat scan` exits 3 and a
    /// `scan` automation step fails.
    pub fn reached(self, counts: SeverityCounts) -> usize {
        match self {
            FailOn::Never => 0,
            FailOn::Error => counts.error,
            FailOn::Warning => counts.error + counts.warning,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Manifest,
    Terraform,
    Cluster,
}

/// Where a resource or finding comes from: a file (relative to the scan root when possible)
/// and a 1-based line; `line` is 1 when nothing better is known, as SARIF requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// Terraform `depends_on` / dependencies.
    DependsOn,
    /// Kubernetes `ownerReferences`.
    OwnedBy,
    /// A Service whose selector matches a workload's pod template.
    Selects,
    /// An Ingress routing to a Service.
    RoutesTo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub kind: RelationKind,
    /// The `id` of the related resource (it may be outside the scanned set).
    pub target: String,
}

/// One inventory entry. `id` is stable: `kind/namespace/name` with the API group for
/// Kubernetes objects, the address for Terraform resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub origin: Origin,
    /// Kubernetes kind or Terraform resource type.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Terraform address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub location: Location,
    /// Kubernetes labels or Terraform tags, secret-looking values redacted.
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub attribution: Attribution,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
    /// Pod-template labels of workloads and selectors of Services: used to relate them
    /// after the scan; not part of the published inventory.
    #[serde(skip)]
    pub(crate) pod_labels: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    pub(crate) selector: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub message: String,
    /// `id` of the offending resource.
    pub resource: String,
    pub kind: String,
    pub name: String,
    pub location: Location,
    /// Stable across line moves: hash of rule, resource identity and the offending item.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
    /// Something the user should know went unread (a broken symlink, a device), as opposed
    /// to files that are expected to hold no manifest (READMEs, Helm values).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputProblem {
    pub location: Location,
    pub message: String,
}

/// Receives results as they are produced, so that huge inputs never need to be held whole.
pub trait ScanSink {
    fn resource(&mut self, resource: Resource);
    fn finding(&mut self, finding: Finding);
    fn skipped(&mut self, skipped: Skipped);
    fn problem(&mut self, problem: InputProblem);
    /// Something limited the scan (e.g. kustomize missing); the result is partial.
    fn partial(&mut self, reason: String);
    /// False when the sink only counts resources (SARIF, annotations, tables): checks then
    /// give resources without labels, annotations, attribution or relations, and skip the
    /// redaction and linking work those need.
    fn wants_inventory(&self) -> bool {
        true
    }
}

/// The collecting sink: everything the reporters need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub resources: Vec<Resource>,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    /// Malformed documents and similar per-input problems; the scan went on past them.
    pub problems: Vec<InputProblem>,
    pub partial: bool,
    pub notes: Vec<String>,
}

impl ScanSink for ScanReport {
    fn resource(&mut self, resource: Resource) {
        self.resources.push(resource);
    }
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
    fn skipped(&mut self, skipped: Skipped) {
        self.skipped.push(skipped);
    }
    fn problem(&mut self, problem: InputProblem) {
        self.problems.push(problem);
    }
    fn partial(&mut self, reason: String) {
        self.partial = true;
        if !self.notes.contains(&reason) {
            self.notes.push(reason);
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub error: usize,
    pub warning: usize,
    pub note: usize,
}

impl ScanReport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds relations that need the whole inventory (Service → workload selectors,
    /// Ingress → Service) and sorts everything into a deterministic order.
    pub fn finish(&mut self) {
        rules::link_selectors(&mut self.resources);
        self.resources.sort_by(|a, b| {
            (&a.location.file, a.location.line, &a.id).cmp(&(
                &b.location.file,
                b.location.line,
                &b.id,
            ))
        });
        self.findings.sort_by(|a, b| {
            (
                &a.location.file,
                a.location.line,
                &a.rule_id,
                &a.fingerprint,
            )
                .cmp(&(
                    &b.location.file,
                    b.location.line,
                    &b.rule_id,
                    &b.fingerprint,
                ))
        });
        self.findings
            .dedup_by(|a, b| a.fingerprint == b.fingerprint);
    }

    pub fn counts(&self) -> SeverityCounts {
        let mut counts = SeverityCounts::default();
        for finding in &self.findings {
            match finding.severity {
                Severity::Error => counts.error += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Note => counts.note += 1,
            }
        }
        counts
    }

    /// Merges another report (tests build one report from several scans).
    #[cfg(test)]
    pub fn merge(&mut self, other: ScanReport) {
        self.resources.extend(other.resources);
        self.findings.extend(other.findings);
        self.skipped.extend(other.skipped);
        self.problems.extend(other.problems);
        self.partial |= other.partial;
        for note in other.notes {
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
        }
    }
}

/// A sink that only counts; lets callers (and the benchmark) scan inputs of any size in flat memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountingSink {
    pub resources: usize,
    pub findings: usize,
    pub skipped: usize,
    pub problems: usize,
    pub partial: bool,
}

impl ScanSink for CountingSink {
    fn resource(&mut self, _: Resource) {
        self.resources += 1;
    }
    fn finding(&mut self, _: Finding) {
        self.findings += 1;
    }
    fn skipped(&mut self, _: Skipped) {
        self.skipped += 1;
    }
    fn problem(&mut self, _: InputProblem) {
        self.problems += 1;
    }
    fn partial(&mut self, _: String) {
        self.partial = true;
    }
}

/// Replaces values whose key looks like a secret; used by every reporter path.
pub fn redact_map(map: &mut BTreeMap<String, String>) {
    for (key, value) in map.iter_mut() {
        if rules::is_secret_key(key) || rules::looks_like_secret_value(value) {
            *value = REDACTED.to_string();
        }
    }
}

pub const REDACTED: &str = "<redacted>";
