//! Policies as code: Rego files in conftest's layout, evaluated by regorus (an embedded Rego
//! interpreter, so no `opa` binary is needed) over every Kubernetes object and Terraform resource.
//!
//! Layout: `*.rego` files (Rego v1) under `--policy DIR` or `.plat/policies/`; rules named
//! `deny`, `violation` or `warn`, optionally with a `_suffix`, yielding message strings or objects
//! with a `msg`. `deny`/`violation` findings are errors, `warn` ones warnings. The input is one
//! Kubernetes object as written, or one Terraform resource in `terraform show -json` shape
//! (`address`, `type`, `name`, `values`, plus `"kind": "terraform"` to tell the two apart).
//! The built-in rules stay native Rust: they are the hot path.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use serde_json::Value;

use super::rules::{Emitter, RuleInfo, Target};
use super::{ScanError, ScanSink, Severity};

/// One `deny`/`warn` rule found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// `<package>.<rule>`, e.g. `main.deny_privileged`: the finding's rule id.
    pub id: String,
    pub severity: Severity,
    /// Where the rule is written, `file:line`.
    pub source: String,
}

/// Loaded policies. The engine is behind a mutex because evaluation mutates its input slot.
pub struct Policies {
    engine: Mutex<regorus::Engine>,
    rules: Vec<PolicyRule>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

static PACKAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)").expect("static pattern")
});
static RULE_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((deny|violation|warn)(_[A-Za-z0-9_]+)?)\b").expect("static pattern")
});

impl Policies {
    /// `<root>/.plat/policies` if it exists.
    pub fn discover(root: &Path) -> Option<PathBuf> {
        let candidate = root.join(".plat").join("policies");
        candidate.is_dir().then_some(candidate)
    }

    /// Loads every `*.rego` file (tests, `*_test.rego`, excluded) under the directories.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, ScanError> {
        let mut engine = regorus::Engine::new();
        let mut rules: Vec<PolicyRule> = Vec::new();
        for dir in dirs {
            if !dir.is_dir() {
                return Err(ScanError::Policy {
                    path: dir.clone(),
                    message: "not a directory".into(),
                });
            }
            let files = walkdir::WalkDir::new(dir)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "rego")
                        && !p.to_string_lossy().ends_with("_test.rego")
                });
            for path in files {
                let text = std::fs::read_to_string(&path).map_err(|source| ScanError::Io {
                    path: path.clone(),
                    source,
                })?;
                let shown = path.to_string_lossy().into_owned();
                engine
                    .add_policy(shown.clone(), text.clone())
                    .map_err(|e| ScanError::Policy {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                let Some(package) = PACKAGE.captures(&text).map(|c| c[1].to_string()) else {
                    continue;
                };
                for (index, line) in text.lines().enumerate() {
                    let Some(head) = RULE_HEAD.captures(line) else {
                        continue;
                    };
                    let id = format!("{package}.{}", &head[1]);
                    if rules.iter().any(|r| r.id == id) {
                        continue;
                    }
                    let severity = if &head[2] == "warn" {
                        Severity::Warning
                    } else {
                        Severity::Error
                    };
                    rules.push(PolicyRule {
                        id,
                        severity,
                        source: format!("{shown}:{}", index + 1),
                    });
                }
            }
        }
        Ok(Self {
            engine: Mutex::new(engine),
            rules,
        })
    }

    pub fn rules(&self) -> &[PolicyRule] {
        &self.rules
    }

    /// The rules as catalogue entries, for `plat scan rules` and SARIF.
    pub fn catalogue(&self) -> Vec<RuleInfo> {
        self.rules
            .iter()
            .map(|rule| RuleInfo {
                id: rule.id.clone().into(),
                name: rule.id.replace(['.', '_'], "-").into(),
                default_severity: rule.severity,
                target: Target::Policy,
                description: format!("Rego policy rule {} ({})", rule.id, rule.source).into(),
                fix: "See the rule's message and its policy file.".into(),
            })
            .collect()
    }

    /// Evaluates every rule on one input and emits a finding per message.
    pub(crate) fn check(&self, input: &Value, emitter: &Emitter<'_>, sink: &mut dyn ScanSink) {
        if self.rules.is_empty() {
            return;
        }
        let mut engine = match self.engine.lock() {
            Ok(engine) => engine,
            Err(poisoned) => poisoned.into_inner(),
        };
        engine.set_input(regorus::Value::from(input.clone()));
        for rule in &self.rules {
            let messages = match engine.eval_rule(format!("data.{}", rule.id)) {
                Ok(regorus::Value::Undefined) => continue,
                Ok(value) => messages(&value),
                Err(error) => vec![format!("policy could not be evaluated: {error}")],
            };
            for message in messages {
                emitter.emit_as(
                    sink,
                    &rule.id,
                    rule.severity,
                    &message,
                    message.clone(),
                    &[],
                );
            }
        }
    }
}

/// conftest's result shapes: a set of strings, or of objects with a `msg`.
fn messages(value: &regorus::Value) -> Vec<String> {
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    let items = match json {
        Value::Array(items) => items,
        Value::Bool(false) | Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) => text,
            Value::Object(map) => map
                .get("msg")
                .and_then(Value::as_str)
                .map_or_else(|| Value::Object(map.clone()).to_string(), str::to_string),
            Value::Bool(true) => "policy rule matched".to_string(),
            other => other.to_string(),
        })
        .collect()
}
