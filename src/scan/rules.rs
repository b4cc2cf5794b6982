//! The rule catalogue and the checks over one Kubernetes object.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex::RegexSet;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    Attribution, Finding, Location, Origin, Relation, RelationKind, Resource, ScanConfig, ScanSink,
    Severity, redact_map,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Kubernetes,
    Terraform,
    Files,
    /// A user's Rego policy rule, run over Kubernetes objects and Terraform resources.
    Policy,
}

/// A rule of the catalogue: built in (borrowed, static) or read from a policy file (owned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: Cow<'static, str>,
    /// Short kebab-case name (SARIF `name`).
    pub name: Cow<'static, str>,
    pub default_severity: Severity,
    pub target: Target,
    pub description: Cow<'static, str>,
    pub fix: Cow<'static, str>,
}

pub const TENANT_LABEL: &str = "PLAT001";
pub const RESOURCES: &str = "PLAT002";
pub const PLAINTEXT_SECRET: &str = "PLAT003";
pub const EXPOSED_SERVICE: &str = "PLAT004";
pub const IMAGE_TAG: &str = "PLAT005";
pub const PLATFORM_LABELS: &str = "PLAT006";
pub const PROBES: &str = "PLAT007";
pub const PRIVILEGED: &str = "PLAT008";
pub const RUNS_AS_ROOT: &str = "PLAT009";
pub const HOST_NAMESPACES: &str = "PLAT010";
pub const HOST_PATH: &str = "PLAT011";
pub const HOST_PORT: &str = "PLAT012";
pub const ENV_SECRET: &str = "PLAT013";
pub const TF_TAGS: &str = "PLAT014";
pub const TF_OUTPUT_SENSITIVE: &str = "PLAT015";
pub const UNPARSABLE: &str = "PLAT016";
pub const SECRET_MANIFEST: &str = "PLAT017";

static CATALOGUE: &[RuleInfo] = &[
    RuleInfo {
        id: Cow::Borrowed(TENANT_LABEL),
        name: Cow::Borrowed("missing-tenant-label"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "The object has no tenant-id label, so its cost cannot be allocated to a tenant.",
        ),
        fix: Cow::Borrowed(
            "Add the label <prefix>/tenant-id with the owning tenant's id to metadata.labels.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(RESOURCES),
        name: Cow::Borrowed("missing-resources"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed("A container has no CPU/memory requests or no memory limit."),
        fix: Cow::Borrowed(
            "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(PLAINTEXT_SECRET),
        name: Cow::Borrowed("plaintext-secret"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A ConfigMap or app-config holds what looks like a secret (clientSecret, token, password, private key) in plain text.",
        ),
        fix: Cow::Borrowed(
            "Move the value to a Secret (or an external secret store) and reference it; in app-config use ${ENV_VAR} substitution.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(EXPOSED_SERVICE),
        name: Cow::Borrowed("exposed-outside-edge"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A NodePort/LoadBalancer Service or an Ingress outside the allowed edge classes exposes the workload past the gateway.",
        ),
        fix: Cow::Borrowed(
            "Use a ClusterIP Service behind the platform gateway, or list the Ingress class in allowed_ingress_classes.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(IMAGE_TAG),
        name: Cow::Borrowed("image-not-pinned"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed("A container image uses the `latest` tag or no tag at all."),
        fix: Cow::Borrowed("Pin the image to a version tag or, better, a digest (image@sha256:…)."),
    },
    RuleInfo {
        id: Cow::Borrowed(PLATFORM_LABELS),
        name: Cow::Borrowed("missing-platform-labels"),
        default_severity: Severity::Warning,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "The object lacks one of the platform labels (part-of, tier, suite, topology, workspace-id).",
        ),
        fix: Cow::Borrowed(
            "Add the missing labels to metadata.labels; the required set is configurable in .plat/scan.yaml.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(PROBES),
        name: Cow::Borrowed("missing-probes"),
        default_severity: Severity::Warning,
        target: Target::Kubernetes,
        description: Cow::Borrowed("A long-running container has no readiness or liveness probe."),
        fix: Cow::Borrowed("Add readinessProbe and livenessProbe to the container."),
    },
    RuleInfo {
        id: Cow::Borrowed(PRIVILEGED),
        name: Cow::Borrowed("privileged-container"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A container runs privileged, allows privilege escalation or adds SYS_ADMIN/ALL capabilities.",
        ),
        fix: Cow::Borrowed(
            "Remove securityContext.privileged, set allowPrivilegeEscalation: false and drop added capabilities.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(RUNS_AS_ROOT),
        name: Cow::Borrowed("runs-as-root"),
        default_severity: Severity::Warning,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A container may run as root (runAsUser 0, or runAsNonRoot not set).",
        ),
        fix: Cow::Borrowed(
            "Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod or container.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(HOST_NAMESPACES),
        name: Cow::Borrowed("host-namespaces"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed("The pod shares the host network, PID or IPC namespace."),
        fix: Cow::Borrowed("Remove hostNetwork, hostPID and hostIPC from the pod spec."),
    },
    RuleInfo {
        id: Cow::Borrowed(HOST_PATH),
        name: Cow::Borrowed("host-path-volume"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed("The pod mounts a hostPath volume."),
        fix: Cow::Borrowed(
            "Use a PersistentVolumeClaim, emptyDir or a CSI volume instead of hostPath.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(HOST_PORT),
        name: Cow::Borrowed("host-port"),
        default_severity: Severity::Warning,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A container binds a hostPort, bypassing Services and the edge chain.",
        ),
        fix: Cow::Borrowed("Remove ports[].hostPort and expose the port through a Service."),
    },
    RuleInfo {
        id: Cow::Borrowed(ENV_SECRET),
        name: Cow::Borrowed("secret-in-env-literal"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A container environment variable carries a secret as a literal value.",
        ),
        fix: Cow::Borrowed(
            "Use env[].valueFrom.secretKeyRef (or envFrom.secretRef) instead of value.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(TF_TAGS),
        name: Cow::Borrowed("terraform-missing-platform-tags"),
        default_severity: Severity::Error,
        target: Target::Terraform,
        description: Cow::Borrowed(
            "A taggable Terraform resource lacks the platform tags, so a leaked resource cannot be attributed.",
        ),
        fix: Cow::Borrowed(
            "Add the platform tags (e.g. through the provider's default_tags or a common tags local).",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(TF_OUTPUT_SENSITIVE),
        name: Cow::Borrowed("terraform-output-not-sensitive"),
        default_severity: Severity::Error,
        target: Target::Terraform,
        description: Cow::Borrowed(
            "A Terraform output that holds a secret is not marked sensitive.",
        ),
        fix: Cow::Borrowed("Add `sensitive = true` to the output block."),
    },
    RuleInfo {
        id: Cow::Borrowed(UNPARSABLE),
        name: Cow::Borrowed("unparsable-input"),
        default_severity: Severity::Error,
        target: Target::Files,
        description: Cow::Borrowed(
            "A file could not be read or parsed (malformed YAML or JSON, invalid UTF-8, binary, nested too deep or too large), so nothing in it was checked.",
        ),
        fix: Cow::Borrowed(
            "Fix the file (the message says where), render templates first (`helm template … | plat scan -`), or pass --skip-unparsable to only warn.",
        ),
    },
    RuleInfo {
        id: Cow::Borrowed(SECRET_MANIFEST),
        name: Cow::Borrowed("secret-manifest-with-data"),
        default_severity: Severity::Error,
        target: Target::Kubernetes,
        description: Cow::Borrowed(
            "A Kubernetes Secret manifest carries its values in data or stringData, so the secret is committed with the code.",
        ),
        fix: Cow::Borrowed(
            "Keep the values out of the repository: an ExternalSecret, a SealedSecret or SOPS-encrypted file, or create the Secret at deploy time.",
        ),
    },
];

/// The Kubernetes and file rules, then the cloud baseline for Terraform.
static ALL_RULES: LazyLock<Vec<RuleInfo>> = LazyLock::new(|| {
    CATALOGUE
        .iter()
        .chain(super::cloud::CATALOGUE)
        .cloned()
        .collect()
});

/// Every built-in rule, in id order (`plat scan rules`).
pub fn catalogue() -> &'static [RuleInfo] {
    &ALL_RULES
}

pub fn info(rule_id: &str) -> Option<&'static RuleInfo> {
    ALL_RULES.iter().find(|r| r.id == rule_id)
}

const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
    "connectionstring",
];
/// Keys that name a secret without holding one (`tokenUrl`, `secretName`, `passwordFile` …).
const NOT_A_SECRET_SUFFIXES: &[&str] = &[
    "file",
    "path",
    "url",
    "uri",
    "endpoint",
    "name",
    "ref",
    "ttl",
    "timeout",
    "enabled",
    "mode",
    "type",
    "length",
    "expiry",
    "expiration",
    "audience",
    "issuer",
    "version",
    "id",
];

pub fn is_secret_key(key: &str) -> bool {
    // Called for every label and env var: normalize on the stack, no allocation.
    let mut buffer = [0u8; 128];
    let mut len = 0;
    for b in key.bytes().filter(u8::is_ascii_alphanumeric) {
        if len == buffer.len() {
            break;
        }
        buffer[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let normalized = std::str::from_utf8(&buffer[..len]).unwrap_or_default();
    SECRET_WORDS.iter().any(|w| normalized.contains(w))
        && !NOT_A_SECRET_SUFFIXES
            .iter()
            .any(|s| normalized.ends_with(s))
}

static SECRET_VALUES: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"\bAKIA[0-9A-Z]{16}\b",
        r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
        r"\bxox[baprs]-[A-Za-z0-9-]{10,}",
        r"\bsk_live_[A-Za-z0-9]{16,}",
        r"(?i)AccountKey=[A-Za-z0-9+/=]{20,}",
        r"client-key-data:\s*\S{20,}",
    ])
    .expect("static patterns compile")
});

pub fn looks_like_secret_value(value: &str) -> bool {
    value.len() >= 16 && SECRET_VALUES.is_match(value)
}

/// Words that stand for a value still to be filled in (`changeme`, `password`, `TODO` …).
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "changeit",
    "changethis",
    "replaceme",
    "placeholder",
    "redacted",
    "secret",
    "password",
    "token",
    "none",
    "null",
    "todo",
    "tbd",
    "fixme",
    "dummy",
    "example",
    "sample",
    "test",
];

/// Values that refer to a secret, or stand in for one, instead of containing it:
/// `${VAR}`, `$(VAR)`, `{{ .Values.x }}`, `<your-token>`, `INSERT_GITHUB_TOKEN`,
/// `YOUR_API_KEY_HERE`, `changeme`, `xxxxxxxx`.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches('"').trim_matches('\'');
    if v.is_empty()
        || v.starts_with("${")
        || v.starts_with("$(")
        || v.starts_with("{{")
        || (v.starts_with('<') && v.ends_with('>'))
    {
        return true;
    }
    let upper = v.to_ascii_uppercase();
    let shouting = v
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if shouting
        && (upper.starts_with("INSERT_")
            || upper.starts_with("REPLACE_")
            || upper.starts_with("YOUR_")
            || upper.starts_with("ENTER_")
            || upper.ends_with("_HERE"))
    {
        return true;
    }
    let letters: String = v
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if PLACEHOLDER_WORDS.contains(&letters.as_str()) {
        return true;
    }
    // `xxxxxxxx`, `********`, `00000000`: one character repeated.
    let mut chars = v.chars();
    let first = chars.next();
    v.len() >= 3 && chars.all(|c| Some(c) == first)
}

/// YAML 1.1 booleans, as Kubernetes reads them (`hostPID: yes`, `privileged: on`).
pub(crate) fn yaml_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
                Some(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
            | "FALSE" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Identity of a finding for SARIF `partialFingerprints` and de-duplication: the rule, the file,
/// the object (kind, namespace, name) and the offending item, never the line, so that it stays
/// across line moves and unrelated edits, and differs when the same object is in two files.
pub(crate) fn fingerprint(rule_id: &str, file: &str, resource_id: &str, item: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0]);
    hasher.update(file.as_bytes());
    hasher.update([0]);
    hasher.update(resource_id.as_bytes());
    hasher.update([0]);
    hasher.update(item.as_bytes());
    let digest = hasher.finalize();
    hex::encode(&digest[..16])
}

/// The document a finding points into; `text` lets findings land on the offending line.
pub(crate) struct DocSource<'a> {
    pub file: &'a str,
    pub line: u32,
    pub text: Option<&'a str>,
    pub origin: Origin,
}

impl DocSource<'_> {
    /// Line of the first document line containing every needle, else the document start.
    /// One substring search over the document for the first needle, rather than a search per
    /// line and needle: this runs for most findings, and the per-line searches showed in profiles.
    pub(crate) fn line_of(&self, needles: &[&str]) -> u32 {
        let (Some(text), Some((first, rest))) = (self.text, needles.split_first()) else {
            return self.line;
        };
        if first.is_empty() || first.contains('\n') {
            return text
                .lines()
                .position(|line| needles.iter().all(|n| line.contains(n)))
                .map_or(self.line, |offset| self.line + offset as u32);
        }
        let mut counted_to = 0;
        let mut offset = 0u32;
        for (at, _) in text.match_indices(first) {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let line = text[start..end]
                .strip_suffix('\r')
                .unwrap_or(&text[start..end]);
            if line.len() < at + first.len() - start {
                continue; // the match ends in the line's `\r`
            }
            offset += newlines(&text[counted_to..start]);
            counted_to = start;
            if rest.iter().all(|n| line.contains(n)) {
                return self.line + offset;
            }
        }
        self.line
    }
}

/// A byte loop the compiler vectorizes; `str::matches` went through a char searcher.
fn newlines(text: &str) -> u32 {
    text.bytes().filter(|&b| b == b'\n').count() as u32
}

/// Emits findings for one object after applying severities, exclusions and ignore annotations.
pub(crate) struct Emitter<'a> {
    pub config: &'a ScanConfig,
    pub doc: &'a DocSource<'a>,
    pub resource_id: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub ignored: Vec<String>,
}

impl Emitter<'_> {
    pub(crate) fn emit(
        &self,
        sink: &mut dyn ScanSink,
        rule_id: &'static str,
        item: &str,
        message: String,
        needles: &[&str],
    ) {
        let Some(severity) = self.config.severity(rule_id) else {
            return;
        };
        self.emit_as(sink, rule_id, severity, item, message, needles);
    }

    /// Emits under a rule that is not in the built-in catalogue (a policy rule).
    pub(crate) fn emit_as(
        &self,
        sink: &mut dyn ScanSink,
        rule_id: &str,
        severity: Severity,
        item: &str,
        message: String,
        needles: &[&str],
    ) {
        if self.ignored.iter().any(|r| r == rule_id || r == "ALL")
            || self
                .config
                .is_excluded(rule_id, self.doc.file, self.kind, self.name)
        {
            return;
        }
        let line = if needles.is_empty() {
            self.doc.line
        } else {
            self.doc.line_of(needles)
        };
        sink.finding(Finding {
            rule_id: rule_id.to_string(),
            severity,
            message,
            resource: self.resource_id.to_string(),
            kind: self.kind.to_string(),
            name: self.name.to_string(),
            location: Location {
                file: self.doc.file.to_string(),
                line: line.max(1),
            },
            fingerprint: fingerprint(rule_id, self.doc.file, self.resource_id, item),
        });
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    if let Some(Value::Object(obj)) = value {
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            map.insert(k.clone(), text);
        }
    }
    map
}

fn get<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    get(value, path).and_then(Value::as_str)
}

pub(crate) fn api_group(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "core",
    }
}

pub(crate) fn kube_id(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> String {
    format!(
        "{}/{}/{}/{}",
        api_group(api_version),
        kind,
        namespace.unwrap_or("-"),
        name
    )
}

/// Account, tenant and workspace from labels; `cloud_tags` also accepts the key spellings
/// that cloud tag rules force (see [`tag_value`]).
pub(crate) fn attribution(
    config: &ScanConfig,
    labels: &BTreeMap<String, String>,
    cloud_tags: bool,
) -> Attribution {
    let lookup = |suffix: &str| {
        let label = config.label(suffix);
        if cloud_tags {
            tag_value(labels, &label, &config.label_prefix)
        } else {
            labels.get(&label).cloned()
        }
    };
    Attribution {
        account: lookup("account-id"),
        tenant: lookup("tenant-id"),
        workspace: lookup("workspace-id"),
    }
}

/// Finds a label or cloud tag. Cloud providers restrict tag keys (Azure forbids `/`), so a tag
/// matches the label `prefix/tenant-id` also as `tenant-id`, `tenant_id` or `prefix-tenant-id`.
pub(crate) fn tag_value(
    tags: &BTreeMap<String, String>,
    label: &str,
    prefix: &str,
) -> Option<String> {
    if let Some(v) = tags.get(label) {
        return Some(v.clone());
    }
    let canonical = |key: &str| -> String {
        let key = key.strip_prefix(prefix).unwrap_or(key);
        let key = key.rsplit('/').next().unwrap_or(key);
        key.trim_start_matches(['-', '_', '.', '/', ':'])
            .to_ascii_lowercase()
            .replace('_', "-")
    };
    let wanted = canonical(label);
    tags.iter()
        .find(|(k, _)| canonical(k) == wanted)
        .map(|(_, v)| v.clone())
}

const LONG_RUNNING: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Rollout",
];

/// Workloads that keep running, and bare Pods unless their restartPolicy ends them.
fn is_long_running(kind: &str, spec: &Value) -> bool {
    LONG_RUNNING.contains(&kind)
        || (kind == "Pod"
            && !matches!(
                str_at(spec, &["restartPolicy"]),
                Some("Never" | "OnFailure")
            ))
}

fn pod_template(obj: &Value, kind: &str) -> Option<&'static [&'static str]> {
    let path: &'static [&'static str] = match kind {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Job" => &["spec", "template", "spec"],
        k if LONG_RUNNING.contains(&k) => &["spec", "template", "spec"],
        _ => return None,
    };
    get(obj, path).is_some().then_some(path)
}

/// Checks one Kubernetes object, emits its findings and returns its inventory entry.
pub(crate) fn check_object(
    obj: &Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) -> Option<Resource> {
    let api_version = obj.get("apiVersion")?.as_str()?;
    let kind = obj.get("kind")?.as_str()?;
    let metadata = obj.get("metadata");
    let name = metadata
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    let labels = string_map(metadata.and_then(|m| m.get("labels")));
    let mut annotations = string_map(metadata.and_then(|m| m.get("annotations")));
    let id = kube_id(api_version, kind, namespace, name);
    let emitter = Emitter {
        config,
        doc,
        resource_id: &id,
        kind,
        name,
        ignored: config.ignored_rules(&annotations),
    };

    let group = api_group(api_version);
    if !config.label_exempt_api_groups.iter().any(|g| g == group) && kind != "List" {
        check_labels(&emitter, &labels, sink);
    }
    let wants_inventory = sink.wants_inventory();
    let mut pod_labels = None;
    if let Some(path) = pod_template(obj, kind) {
        let spec = get(obj, path).expect("checked by pod_template");
        check_pod(&emitter, spec, is_long_running(kind, spec), sink);
        if !wants_inventory {
            // Only counted: no pod labels to link.
        } else if path.len() > 1 {
            let meta_path = &path[..path.len() - 1];
            let template_labels = get(obj, meta_path)
                .and_then(|t| t.get("metadata"))
                .and_then(|m| m.get("labels"));
            pod_labels = Some(string_map(template_labels));
        } else {
            pod_labels = Some(labels.clone());
        }
    }
    let mut relations = owner_relations(metadata, namespace);
    let mut selector = None;
    match (group, kind) {
        ("core", "ConfigMap") => check_configmap(&emitter, obj, sink),
        ("core", "Secret") => check_secret(&emitter, obj, sink),
        ("core", "Service") => {
            check_service(&emitter, obj, sink);
            let sel = string_map(get(obj, &["spec", "selector"]));
            if !sel.is_empty() {
                selector = Some(sel);
            }
        }
        (_, "Ingress") => {
            check_ingress(&emitter, obj, &annotations, sink);
            relations.extend(ingress_backends(obj, namespace));
        }
        _ => {}
    }

    if let Some(policies) = &config.policies {
        policies.check(obj, &emitter, sink);
    }
    let location = Location {
        file: doc.file.to_string(),
        line: doc.line.max(1),
    };
    if !wants_inventory {
        return Some(Resource {
            id,
            origin: doc.origin,
            kind: kind.to_string(),
            api_version: Some(api_version.to_string()),
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
            address: None,
            location,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            attribution: Attribution::default(),
            relations: Vec::new(),
            pod_labels: None,
            selector: None,
        });
    }
    // Whole manifests echoed by kubectl would leak every secret they contain.
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    let mut labels_out = labels;
    redact_map(&mut labels_out);
    redact_map(&mut annotations);
    Some(Resource {
        attribution: attribution(config, &labels_out, false),
        id,
        origin: doc.origin,
        kind: kind.to_string(),
        api_version: Some(api_version.to_string()),
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        address: None,
        location,
        labels: labels_out,
        annotations,
        relations,
        pod_labels,
        selector,
    })
}

fn check_labels(emitter: &Emitter<'_>, labels: &BTreeMap<String, String>, sink: &mut dyn ScanSink) {
    let tenant_label = emitter.config.label("tenant-id");
    let mut missing = Vec::new();
    for label in &emitter.config.required_labels {
        let present = labels.get(label).is_some_and(|v| !v.is_empty());
        if present {
            continue;
        }
        if *label == tenant_label {
            emitter.emit(
                sink,
                TENANT_LABEL,
                label,
                format!(
                    "{} {} has no {label} label: its cost cannot be allocated",
                    emitter.kind, emitter.name
                ),
                &["metadata:"],
            );
        } else {
            missing.push(label.as_str());
        }
    }
    if !missing.is_empty() {
        emitter.emit(
            sink,
            PLATFORM_LABELS,
            "labels",
            format!(
                "{} {} lacks platform labels: {}",
                emitter.kind,
                emitter.name,
                missing.join(", ")
            ),
            &["metadata:"],
        );
    }
}

fn containers(spec: &Value) -> impl Iterator<Item = (&Value, bool)> {
    let list = |key: &str| {
        spec.get(key)
            .and_then(Value::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
    };
    list("containers")
        .iter()
        .map(|c| (c, false))
        .chain(list("initContainers").iter().map(|c| (c, true)))
}

fn check_pod(emitter: &Emitter<'_>, spec: &Value, long_running: bool, sink: &mut dyn ScanSink) {
    for flag in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(flag).and_then(yaml_bool) == Some(true) {
            emitter.emit(
                sink,
                HOST_NAMESPACES,
                flag,
                format!("{} {} sets {flag}: true", emitter.kind, emitter.name),
                &[flag],
            );
        }
    }
    if let Some(volumes) = spec.get("volumes").and_then(Value::as_array) {
        for volume in volumes {
            if let Some(host_path) = volume.get("hostPath") {
                let vol_name = str_at(volume, &["name"]).unwrap_or("?");
                let path = str_at(host_path, &["path"]).unwrap_or("?");
                emitter.emit(
                    sink,
                    HOST_PATH,
                    vol_name,
                    format!("volume {vol_name} mounts host path {path}"),
                    &["path:", path],
                );
            }
        }
    }
    let pod_security = spec.get("securityContext");
    for (container, is_init) in containers(spec) {
        let cname = str_at(container, &["name"]).unwrap_or("?");
        check_image(emitter, container, cname, sink);
        check_container_resources(emitter, container, cname, sink);
        if long_running && !is_init {
            let missing: Vec<&str> = ["readinessProbe", "livenessProbe"]
                .into_iter()
                .filter(|p| container.get(*p).is_none())
                .collect();
            if !missing.is_empty() {
                emitter.emit(
                    sink,
                    PROBES,
                    cname,
                    format!("container {cname} has no {}", missing.join(" or ")),
                    &["name:", cname],
                );
            }
        }
        check_security(emitter, container, pod_security, cname, sink);
        check_ports(emitter, container, cname, sink);
        check_env(emitter, container, cname, sink);
    }
}

fn check_image(emitter: &Emitter<'_>, container: &Value, cname: &str, sink: &mut dyn ScanSink) {
    let Some(image) = str_at(container, &["image"]) else {
        return;
    };
    if image.contains('@') {
        return;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    let tag = last_segment.split_once(':').map(|(_, t)| t);
    let problem = match tag {
        None | Some("") => "has no tag",
        Some("latest") => "uses the latest tag",
        Some(_) => return,
    };
    emitter.emit(
        sink,
        IMAGE_TAG,
        cname,
        format!("container {cname} image {image} {problem}"),
        &["image:", image],
    );
}

fn check_container_resources(
    emitter: &Emitter<'_>,
    container: &Value,
    cname: &str,
    sink: &mut dyn ScanSink,
) {
    let resources = container.get("resources");
    let has = |section: &str, key: &str| {
        resources
            .and_then(|r| r.get(section))
            .and_then(|s| s.get(key))
            .is_some_and(|v| !v.is_null())
    };
    let mut missing = Vec::new();
    for (section, key) in [
        ("requests", "cpu"),
        ("requests", "memory"),
        ("limits", "memory"),
    ] {
        if !has(section, key) {
            missing.push(format!("{section}.{key}"));
        }
    }
    if !missing.is_empty() {
        emitter.emit(
            sink,
            RESOURCES,
            cname,
            format!("container {cname} has no resources {}", missing.join(", ")),
            &["name:", cname],
        );
    }
}

fn check_security(
    emitter: &Emitter<'_>,
    container: &Value,
    pod_security: Option<&Value>,
    cname: &str,
    sink: &mut dyn ScanSink,
) {
    let sc = container.get("securityContext");
    let flag = |key: &str| sc.and_then(|s| s.get(key)).and_then(yaml_bool);
    let mut reasons = Vec::new();
    if flag("privileged") == Some(true) {
        reasons.push("privileged: true".to_string());
    }
    if flag("allowPrivilegeEscalation") == Some(true) {
        reasons.push("allowPrivilegeEscalation: true".to_string());
    }
    if let Some(added) = sc
        .and_then(|s| get(s, &["capabilities", "add"]))
        .and_then(Value::as_array)
    {
        for cap in added.iter().filter_map(Value::as_str) {
            if matches!(cap, "SYS_ADMIN" | "ALL" | "CAP_SYS_ADMIN") {
                reasons.push(format!("adds capability {cap}"));
            }
        }
    }
    if !reasons.is_empty() {
        emitter.emit(
            sink,
            PRIVILEGED,
            cname,
            format!("container {cname}: {}", reasons.join(", ")),
            &["privileged"],
        );
    }
    let effective = |key: &str| {
        sc.and_then(|s| s.get(key))
            .filter(|v| !v.is_null())
            .or_else(|| pod_security.and_then(|s| s.get(key)))
    };
    let run_as_user = effective("runAsUser").and_then(Value::as_i64);
    let non_root = effective("runAsNonRoot").and_then(yaml_bool);
    let message = match (run_as_user, non_root) {
        (Some(0), _) => Some("runs as user 0 (root)"),
        (None, None | Some(false)) => {
            Some("may run as root: runAsNonRoot is not true and runAsUser is unset")
        }
        _ => None,
    };
    if let Some(message) = message {
        emitter.emit(
            sink,
            RUNS_AS_ROOT,
            cname,
            format!("container {cname} {message}"),
            &["name:", cname],
        );
    }
}

fn check_ports(emitter: &Emitter<'_>, container: &Value, cname: &str, sink: &mut dyn ScanSink) {
    let Some(ports) = container.get("ports").and_then(Value::as_array) else {
        return;
    };
    for port in ports {
        if let Some(host_port) = port.get("hostPort").and_then(Value::as_i64)
            && host_port > 0
        {
            let needle = host_port.to_string();
            emitter.emit(
                sink,
                HOST_PORT,
                &format!("{cname}:{host_port}"),
                format!("container {cname} binds hostPort {host_port}"),
                &["hostPort", &needle],
            );
        }
    }
}

fn check_env(emitter: &Emitter<'_>, container: &Value, cname: &str, sink: &mut dyn ScanSink) {
    let Some(env) = container.get("env").and_then(Value::as_array) else {
        return;
    };
    for var in env {
        let (Some(name), Some(value)) = (str_at(var, &["name"]), str_at(var, &["value"])) else {
            continue;
        };
        if is_placeholder(value) {
            continue;
        }
        if is_secret_key(name) || looks_like_secret_value(value) {
            emitter.emit(
                sink,
                ENV_SECRET,
                &format!("{cname}/{name}"),
                format!("container {cname} sets {name} to a literal secret value (redacted)"),
                &[name],
            );
        }
    }
}

/// Finds `key: value`, `key=value` and `"key": "value"` lines in embedded config files.
fn embedded_secret_key(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("- ");
        let (key, value) = line.split_once([':', '='])?;
        let key = key.trim().trim_matches('"').trim_matches('\'');
        let value = value.trim().trim_end_matches(',');
        (!key.is_empty()
            && !key.contains(' ')
            && is_secret_key(key)
            && !is_placeholder(value)
            && !value.starts_with('{')
            && !value.starts_with('[')
            && value != "|"
            && value != ">")
            .then_some(key)
    })
}

fn check_configmap(emitter: &Emitter<'_>, obj: &Value, sink: &mut dyn ScanSink) {
    let Some(Value::Object(data)) = obj.get("data") else {
        return;
    };
    for (key, value) in data {
        let Some(text) = value.as_str() else {
            continue;
        };
        let reason = if is_secret_key(key) && !is_placeholder(text) {
            Some(format!("key {key} holds a secret in plain text"))
        } else if looks_like_secret_value(text) {
            Some(format!("key {key} contains a private key or access token"))
        } else {
            embedded_secret_key(text).map(|inner| format!("key {key} embeds {inner} in plain text"))
        };
        if let Some(reason) = reason {
            emitter.emit(
                sink,
                PLAINTEXT_SECRET,
                key,
                format!("ConfigMap {}: {reason} (value redacted)", emitter.name),
                &[&format!("{key}:")],
            );
        }
    }
}

/// A Secret manifest with values: committed secrets, unless every value is a placeholder.
fn check_secret(emitter: &Emitter<'_>, obj: &Value, sink: &mut dyn ScanSink) {
    use base64::Engine as _;
    let mut keys: Vec<&str> = Vec::new();
    for (section, encoded) in [("data", true), ("stringData", false)] {
        let Some(Value::Object(entries)) = obj.get(section) else {
            continue;
        };
        for (key, value) in entries {
            let Some(text) = value.as_str() else {
                continue;
            };
            let decoded = if encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
            } else {
                Some(text.to_string())
            };
            if decoded.is_some_and(|plain| is_placeholder(&plain)) {
                continue;
            }
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return;
    }
    keys.sort_unstable();
    emitter.emit(
        sink,
        SECRET_MANIFEST,
        "data",
        format!(
            "Secret {} commits values for {} (values redacted)",
            emitter.name,
            keys.join(", ")
        ),
        &["data:"],
    );
}

/// Backstage `app-config*.yaml` and similar plain config files: literal secrets in any key.
pub(crate) fn check_app_config(
    value: &Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) {
    let id = format!("file/{}", doc.file);
    let emitter = Emitter {
        config,
        doc,
        resource_id: &id,
        kind: "app-config",
        name: doc.file,
        ignored: Vec::new(),
    };
    let mut stack: Vec<(String, &Value)> = vec![(String::new(), value)];
    while let Some((path, node)) = stack.pop() {
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if let Value::String(text) = child
                        && ((is_secret_key(key) && !is_placeholder(text))
                            || looks_like_secret_value(text))
                    {
                        emitter.emit(
                            sink,
                            PLAINTEXT_SECRET,
                            &child_path,
                            format!("{child_path} holds a secret in plain text (value redacted); use ${{ENV}} substitution"),
                            &[&format!("{key}:")],
                        );
                    }
                    stack.push((child_path, child));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{path}[{i}]"), item));
                }
            }
            _ => {}
        }
    }
}

fn check_service(emitter: &Emitter<'_>, obj: &Value, sink: &mut dyn ScanSink) {
    let service_type = str_at(obj, &["spec", "type"]).unwrap_or("ClusterIP");
    if matches!(service_type, "NodePort" | "LoadBalancer") {
        emitter.emit(
            sink,
            EXPOSED_SERVICE,
            service_type,
            format!(
                "Service {} is of type {service_type}, reachable outside the edge chain",
                emitter.name
            ),
            &["type:", service_type],
        );
    }
}

fn check_ingress(
    emitter: &Emitter<'_>,
    obj: &Value,
    annotations: &BTreeMap<String, String>,
    sink: &mut dyn ScanSink,
) {
    let class = str_at(obj, &["spec", "ingressClassName"]).or_else(|| {
        annotations
            .get("kubernetes.io/ingress.class")
            .map(String::as_str)
    });
    let allowed = class.is_some_and(|c| {
        emitter
            .config
            .allowed_ingress_classes
            .iter()
            .any(|a| a == c)
    });
    if !allowed {
        emitter.emit(
            sink,
            EXPOSED_SERVICE,
            "ingress",
            format!(
                "Ingress {} (class {}) bypasses the platform gateway",
                emitter.name,
                class.unwrap_or("<default>")
            ),
            &["ingressClassName"],
        );
    }
}

fn owner_relations(metadata: Option<&Value>, namespace: Option<&str>) -> Vec<Relation> {
    let Some(owners) = metadata
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    owners
        .iter()
        .filter_map(|o| {
            let api_version = str_at(o, &["apiVersion"])?;
            let kind = str_at(o, &["kind"])?;
            let name = str_at(o, &["name"])?;
            Some(Relation {
                kind: RelationKind::OwnedBy,
                target: kube_id(api_version, kind, namespace, name),
            })
        })
        .collect()
}

fn ingress_backends(obj: &Value, namespace: Option<&str>) -> Vec<Relation> {
    let mut names = Vec::new();
    let mut push = |backend: Option<&Value>| {
        if let Some(name) = backend.and_then(|b| str_at(b, &["service", "name"])) {
            names.push(name.to_string());
        }
    };
    push(get(obj, &["spec", "defaultBackend"]));
    if let Some(rules) = get(obj, &["spec", "rules"]).and_then(Value::as_array) {
        for rule in rules {
            if let Some(paths) = get(rule, &["http", "paths"]).and_then(Value::as_array) {
                for path in paths {
                    push(path.get("backend"));
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| Relation {
            kind: RelationKind::RoutesTo,
            target: kube_id("v1", "Service", namespace, &name),
        })
        .collect()
}

/// Relates every Service to the workloads whose pod-template labels its selector matches.
///
/// Linear in the inventory: workloads are indexed by (namespace, label, value), each distinct
/// (namespace, selector) is matched once and shared by every Service that repeats it, and the
/// targets are distinct ids, so hundreds of copies of one app cost no more than one.
pub(crate) fn link_selectors(resources: &mut [Resource]) {
    type SelectorKey<'r> = (Option<&'r str>, &'r BTreeMap<String, String>);
    let mut index: HashMap<(Option<&str>, &str, &str), Vec<usize>> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        // Bare Pods owned by a workload are matched through their owner instead.
        if r.kind == "Pod" && !r.relations.is_empty() {
            continue;
        }
        if let Some(labels) = &r.pod_labels {
            for (k, v) in labels {
                index
                    .entry((r.namespace.as_deref(), k.as_str(), v.as_str()))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut matches: HashMap<SelectorKey<'_>, Vec<String>> = HashMap::new();
    let mut links: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let Some(selector) = &r.selector else {
            continue;
        };
        let key = (r.namespace.as_deref(), selector);
        let targets = matches.entry(key).or_insert_with(|| {
            let Some((k, v)) = selector.iter().next() else {
                return Vec::new();
            };
            let mut targets: Vec<String> = index
                .get(&(r.namespace.as_deref(), k.as_str(), v.as_str()))
                .into_iter()
                .flatten()
                .filter(|&&c| {
                    let pod_labels = resources[c].pod_labels.as_ref().expect("indexed");
                    selector
                        .iter()
                        .all(|(sk, sv)| pod_labels.get(sk) == Some(sv))
                })
                .map(|&c| resources[c].id.clone())
                .collect();
            targets.sort();
            targets.dedup();
            targets
        });
        if !targets.is_empty() {
            links.push((i, targets.clone()));
        }
    }
    for (i, targets) in links {
        let relations = &mut resources[i].relations;
        for target in targets {
            let relation = Relation {
                kind: RelationKind::Selects,
                target,
            };
            if !relations.contains(&relation) {
                relations.push(relation);
            }
        }
    }
}

pub(crate) fn string_map_of(value: Option<&Value>) -> BTreeMap<String, String> {
    string_map(value)
}
