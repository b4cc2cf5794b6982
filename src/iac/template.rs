//! Environment templates: a directory of Terraform files plus a `plat-template.yaml` manifest.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use serde_yaml_ng::Value as YamlValue;

use super::{IacError, Result};

pub const MANIFEST_FILE: &str = "plat-template.yaml";

/// Variables the runner sets itself; a template parameter may not reuse the prefix.
pub const RESERVED_PREFIX: &str = "plat_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Number,
    Bool,
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Bool => "bool",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type", default = "default_param_type")]
    pub kind: ParamType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<JsonValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Regular expression a string must match (write `^…$` to match the whole value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<JsonValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

fn default_param_type() -> ParamType {
    ParamType::String
}

/// Lifetime of environments made from a template (R-ENV-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    pub default: SignedDuration,
    pub max: SignedDuration,
}

impl Default for TtlPolicy {
    fn default() -> Self {
        Self {
            default: SignedDuration::from_mins(30),
            max: SignedDuration::from_hours(4),
        }
    }
}

impl Serialize for TtlPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("TtlPolicy", 4)?;
        state.serialize_field("default", &format!("{:#}", self.default))?;
        state.serialize_field("max", &format!("{:#}", self.max))?;
        state.serialize_field("default_seconds", &self.default.as_secs())?;
        state.serialize_field("max_seconds", &self.max.as_secs())?;
        state.end()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTtl {
    default: Option<String>,
    max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Vec<ParamSpec>,
    ttl: Option<RawTtl>,
    #[serde(default)]
    approval: Approval,
    daily_cost: Option<super::cost::DailyCost>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Whether environments of a template need an approver's decision first (R-GOV-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    #[default]
    None,
    Required,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateManifest {
    pub name: String,
    pub description: String,
    pub parameters: Vec<ParamSpec>,
    pub ttl: TtlPolicy,
    pub approval: Approval,
    /// What an env costs a day (R-GOV-4); absent means nothing is accounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_cost: Option<super::cost::DailyCost>,
    /// Labels the env's resources carry beyond the platform's own, for spend by label.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A validated template and the directory holding its Terraform files.
#[derive(Debug, Clone)]
pub struct Template {
    pub manifest: TemplateManifest,
    pub dir: PathBuf,
    patterns: BTreeMap<String, Regex>,
}

/// Parses `30m`, `1h30m`, `45s`, `2 hours` or ISO 8601 `PT30M` (jiff's friendly format); the
/// duration must be positive.
pub fn parse_duration(text: &str) -> Result<SignedDuration> {
    let duration: SignedDuration =
        text.trim()
            .parse()
            .map_err(|error: jiff::Error| IacError::InvalidDuration {
                value: text.to_string(),
                message: error.to_string(),
            })?;
    if !duration.is_positive() {
        return Err(IacError::InvalidDuration {
            value: text.to_string(),
            message: "must be greater than zero".into(),
        });
    }
    Ok(duration)
}

impl Template {
    /// Reads and validates `<dir>/plat-template.yaml`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| IacError::io(format!("cannot read {}", path.display()), e))?;
        let invalid = |message: String| IacError::InvalidTemplate {
            path: path.clone(),
            message,
        };
        let raw: RawManifest =
            serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;

        let name = match raw.name {
            Some(name) => name,
            None => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if !is_valid_template_name(&name) {
            return Err(invalid(format!(
                "template name `{name}` must be lowercase letters, digits and '-'"
            )));
        }

        let defaults = TtlPolicy::default();
        let ttl_field = |value: Option<String>, fallback: SignedDuration, field: &str| {
            value.map_or(Ok(fallback), |text| {
                parse_duration(&text).map_err(|e| invalid(format!("ttl.{field}: {e}")))
            })
        };
        let (ttl_default, ttl_max) = match raw.ttl {
            Some(raw_ttl) => (raw_ttl.default, raw_ttl.max),
            None => (None, None),
        };
        let ttl = TtlPolicy {
            default: ttl_field(ttl_default, defaults.default, "default")?,
            max: ttl_field(ttl_max, defaults.max, "max")?,
        };
        if ttl.default > ttl.max {
            return Err(invalid(format!(
                "ttl.default ({:#}) is longer than ttl.max ({:#})",
                ttl.default, ttl.max
            )));
        }

        let mut template = Template {
            manifest: TemplateManifest {
                name,
                description: raw.description.trim().to_string(),
                parameters: raw.parameters,
                ttl,
                approval: raw.approval,
                daily_cost: raw.daily_cost,
                labels: raw.labels,
            },
            dir: dir.to_path_buf(),
            patterns: BTreeMap::new(),
        };
        template.check_parameter_specs().map_err(invalid)?;
        if let Some(cost) = &template.manifest.daily_cost {
            cost.check().map_err(invalid)?;
        }
        // Kubernetes' own limits, so that every label fits any platform's label and index.
        for (key, value) in &template.manifest.labels {
            if key.is_empty() || key.len() > 317 || value.len() > 63 {
                return Err(invalid(format!(
                    "label `{key}`: keys are 1 to 317 characters, values at most 63"
                )));
            }
        }
        Ok(template)
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn parameter(&self, name: &str) -> Option<&ParamSpec> {
        self.manifest.parameters.iter().find(|p| p.name == name)
    }

    fn check_parameter_specs(&mut self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for spec in &self.manifest.parameters {
            let name = &spec.name;
            if !is_valid_variable_name(name) {
                return Err(format!(
                    "parameter name `{name}` is not a valid Terraform variable name"
                ));
            }
            if name.starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "parameter `{name}`: the `{RESERVED_PREFIX}` prefix is reserved for variables plat sets"
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(format!("parameter `{name}` is declared twice"));
            }
            if spec.required && spec.default.is_some() {
                return Err(format!("parameter `{name}` is required and has a default"));
            }
            if spec.kind != ParamType::String && spec.pattern.is_some() {
                return Err(format!(
                    "parameter `{name}`: `pattern` applies to strings only"
                ));
            }
            if spec.kind != ParamType::Number && (spec.min.is_some() || spec.max.is_some()) {
                return Err(format!(
                    "parameter `{name}`: `min`/`max` apply to numbers only"
                ));
            }
            if let Some(pattern) = &spec.pattern {
                let regex = Regex::new(pattern)
                    .map_err(|e| format!("parameter `{name}`: invalid pattern: {e}"))?;
                self.patterns.insert(name.clone(), regex);
            }
            for allowed in spec.allowed.iter().flatten() {
                coerce_json(spec, allowed)
                    .map_err(|e| format!("parameter `{name}`: enum value {allowed}: {e}"))?;
            }
        }
        for spec in &self.manifest.parameters {
            if let Some(default) = &spec.default {
                let value = coerce_json(spec, default).map_err(|e| format!("default: {e}"))?;
                self.validate(spec, &value)
                    .map_err(|e| format!("default: {e}"))?;
            }
        }
        Ok(())
    }

    /// Resolves parameter values: `given` (command line, always strings) wins over `file`
    /// (`--param-file`), which wins over the manifest's defaults. Parameters without a value and
    /// without a default are left out, so Terraform's own variable defaults apply.
    pub fn resolve_params(
        &self,
        given: BTreeMap<String, String>,
        file: Option<&BTreeMap<String, YamlValue>>,
    ) -> Result<BTreeMap<String, JsonValue>> {
        let known = || {
            self.manifest
                .parameters
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        };
        let unknown = |name: &str| IacError::UnknownParameter {
            template: self.name().to_string(),
            name: name.to_string(),
            known: known(),
        };
        for name in given.keys().chain(file.into_iter().flat_map(|f| f.keys())) {
            if self.parameter(name).is_none() {
                return Err(unknown(name));
            }
        }

        let mut resolved = BTreeMap::new();
        let mut missing = Vec::new();
        for spec in &self.manifest.parameters {
            let value = if let Some(text) = given.get(&spec.name) {
                coerce_text(spec, text)?
            } else if let Some(value) = file.and_then(|f| f.get(&spec.name)) {
                coerce_yaml(spec, value)?
            } else if let Some(default) = &spec.default {
                coerce_json(spec, default).map_err(|message| IacError::ParameterValidation {
                    name: spec.name.clone(),
                    message,
                })?
            } else {
                if spec.required {
                    missing.push(spec.name.clone());
                }
                continue;
            };
            self.validate(spec, &value)
                .map_err(|message| IacError::ParameterValidation {
                    name: spec.name.clone(),
                    message,
                })?;
            resolved.insert(spec.name.clone(), value);
        }
        if !missing.is_empty() {
            return Err(IacError::MissingParameters { names: missing });
        }
        Ok(resolved)
    }

    fn validate(&self, spec: &ParamSpec, value: &JsonValue) -> Result<(), String> {
        if let Some(allowed) = &spec.allowed {
            let matches = allowed
                .iter()
                .filter_map(|a| coerce_json(spec, a).ok())
                .any(|a| same_value(&a, value));
            if !matches {
                let choices: Vec<String> = allowed.iter().map(display_json).collect();
                return Err(format!(
                    "`{}` is not one of: {}",
                    display_json(value),
                    choices.join(", ")
                ));
            }
        }
        if let (Some(regex), Some(text)) = (self.patterns.get(&spec.name), value.as_str())
            && !regex.is_match(text)
        {
            return Err(format!(
                "`{text}` does not match the pattern `{}`",
                regex.as_str()
            ));
        }
        if let Some(number) = value.as_f64() {
            if let Some(min) = spec.min
                && number < min
            {
                return Err(format!("{number} is less than the minimum {min}"));
            }
            if let Some(max) = spec.max
                && number > max
            {
                return Err(format!("{number} is greater than the maximum {max}"));
            }
        }
        Ok(())
    }
}

fn type_error(spec: &ParamSpec, value: String) -> IacError {
    IacError::InvalidParameterType {
        name: spec.name.clone(),
        expected: spec.kind,
        value,
    }
}

fn coerce_text(spec: &ParamSpec, text: &str) -> Result<JsonValue> {
    match spec.kind {
        ParamType::String => Ok(JsonValue::String(text.to_string())),
        ParamType::Number => parse_number(text.trim()).ok_or_else(|| type_error(spec, text.into())),
        ParamType::Bool => match text.trim() {
            "true" => Ok(JsonValue::Bool(true)),
            "false" => Ok(JsonValue::Bool(false)),
            _ => Err(type_error(spec, text.into())),
        },
    }
}

fn parse_number(text: &str) -> Option<JsonValue> {
    if let Ok(integer) = text.parse::<i64>() {
        return Some(integer.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(JsonValue::Number)
}

fn coerce_yaml(spec: &ParamSpec, value: &YamlValue) -> Result<JsonValue> {
    let json: JsonValue =
        serde_json::to_value(value).map_err(|_| type_error(spec, yaml_to_text(value)))?;
    coerce_json(spec, &json).map_err(|_| type_error(spec, yaml_to_text(value)))
}

/// Accepts a value of the right JSON type, or a string spelling one (YAML users often quote).
fn coerce_json(spec: &ParamSpec, value: &JsonValue) -> Result<JsonValue, String> {
    let mismatch = || format!("expected a {}, got `{}`", spec.kind, display_json(value));
    match (spec.kind, value) {
        (ParamType::String, JsonValue::String(_))
        | (ParamType::Number, JsonValue::Number(_))
        | (ParamType::Bool, JsonValue::Bool(_)) => Ok(value.clone()),
        // A YAML `1.30` would silently become "1.3": strings must be quoted.
        (ParamType::Number | ParamType::Bool, JsonValue::String(text)) => {
            coerce_text(spec, text).map_err(|_| mismatch())
        }
        _ => Err(mismatch()),
    }
}

fn same_value(a: &JsonValue, b: &JsonValue) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn display_json(value: &JsonValue) -> String {
    match value {
        JsonValue::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn yaml_to_text(value: &YamlValue) -> String {
    serde_yaml_ng::to_string(value)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{value:?}"))
}

fn is_valid_template_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

fn is_valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads a `--param-file` (a YAML mapping of parameter name to value).
pub fn load_param_file(path: &Path) -> Result<BTreeMap<String, YamlValue>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| IacError::io(format!("cannot read {}", path.display()), e))?;
    serde_yaml_ng::from_str::<Option<BTreeMap<String, YamlValue>>>(&text)
        .map(Option::unwrap_or_default)
        .map_err(|e| IacError::ParameterValidation {
            name: path.display().to_string(),
            message: format!("not a YAML mapping of parameter names to values: {e}"),
        })
}

/// The templates found under a list of roots.
#[derive(Debug, Clone, Default)]
pub struct TemplateCatalog {
    templates: Vec<Template>,
}

impl TemplateCatalog {
    /// Lists templates under `dirs`, in priority order: a template name found in an earlier root
    /// hides the same name in later ones (pass configured dirs before the built-in ones to let
    /// them override). A root is either a template itself or a directory of templates; missing
    /// roots are skipped, a broken manifest is an error.
    pub fn discover(dirs: &[PathBuf]) -> Result<Self> {
        let mut templates: Vec<Template> = Vec::new();
        for root in dirs {
            let candidates = if root.join(MANIFEST_FILE).is_file() {
                vec![root.clone()]
            } else if root.is_dir() {
                let entries = std::fs::read_dir(root)
                    .map_err(|e| IacError::io(format!("cannot list {}", root.display()), e))?;
                let mut dirs = entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.join(MANIFEST_FILE).is_file())
                    .collect::<Vec<_>>();
                dirs.sort();
                dirs
            } else {
                tracing::debug!(root = %root.display(), "template root does not exist; skipped");
                continue;
            };
            for dir in candidates {
                let template = Template::load(&dir)?;
                if templates.iter().any(|t| t.name() == template.name()) {
                    tracing::debug!(name = template.name(), dir = %dir.display(), "template hidden by an earlier root");
                    continue;
                }
                templates.push(template);
            }
        }
        templates.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(Self { templates })
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    pub fn find(&self, name: &str) -> Result<&Template> {
        self.templates
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| IacError::TemplateNotFound {
                name: name.to_string(),
                known: self
                    .templates
                    .iter()
                    .map(|t| t.name().to_string())
                    .collect(),
            })
    }
}
