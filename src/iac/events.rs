//! Typed view of Terraform/OpenTofu's machine-readable UI (`-json`), one event per line.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

/// What the runner shows instead of a sensitive value.
pub const REDACTED: &str = "(sensitive value)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IacCommand {
    Init,
    Apply,
    Destroy,
    Output,
    Version,
}

impl fmt::Display for IacCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Init => "init",
            Self::Apply => "apply",
            Self::Destroy => "destroy",
            Self::Output => "output",
            Self::Version => "version",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Resource address the diagnostic is about, when Terraform knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl Diagnostic {
    /// `file:line` (or just the file) when Terraform gave a source range.
    pub fn location(&self) -> Option<String> {
        let file = self.filename.as_deref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        write!(f, "{severity}: {}", self.summary)?;
        if let Some(location) = self.location() {
            write!(f, " ({location})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail.trim())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChangeSummary {
    #[serde(default)]
    pub add: u64,
    #[serde(default)]
    pub change: u64,
    #[serde(default)]
    pub import: u64,
    #[serde(default)]
    pub remove: u64,
}

/// One output of a template. Sensitive values are redacted in `Display`, `Debug` and `Serialize`;
/// [`OutputValue::reveal`] returns the real value.
#[derive(Clone, PartialEq, Deserialize)]
pub struct OutputValue {
    #[serde(default)]
    pub sensitive: bool,
    /// Terraform's type constraint, e.g. `"string"` or `["object", {…}]`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<JsonValue>,
    /// Absent while unknown (plan phase) and, in the `-json` stream, for sensitive outputs.
    #[serde(default)]
    value: Option<JsonValue>,
}

impl OutputValue {
    #[cfg(test)]
    pub fn new(value: JsonValue, sensitive: bool) -> Self {
        Self {
            sensitive,
            kind: None,
            value: Some(value),
        }
    }

    /// The real value, sensitive or not: the caller decides where it may go.
    pub fn reveal(&self) -> Option<&JsonValue> {
        self.value.as_ref()
    }

    /// The value fit for logs and terminals.
    pub fn redacted(&self) -> JsonValue {
        match (&self.value, self.sensitive) {
            (_, true) => JsonValue::String(REDACTED.into()),
            (Some(value), false) => value.clone(),
            (None, false) => JsonValue::Null,
        }
    }
}

impl fmt::Debug for OutputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputValue")
            .field("sensitive", &self.sensitive)
            .field("value", &self.redacted())
            .finish()
    }
}

impl fmt::Display for OutputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.redacted() {
            JsonValue::String(text) => f.write_str(&text),
            other => write!(f, "{other}"),
        }
    }
}

impl Serialize for OutputValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("OutputValue", 2)?;
        state.serialize_field("sensitive", &self.sensitive)?;
        state.serialize_field("value", &self.redacted())?;
        state.end()
    }
}

/// A template's outputs by name (redacted when displayed or serialized).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Outputs(pub BTreeMap<String, OutputValue>);

impl Outputs {
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&OutputValue> {
        self.0.get(name)
    }

    #[cfg(test)]
    /// The real value of one output.
    pub fn reveal(&self, name: &str) -> Option<&JsonValue> {
        self.0.get(name).and_then(OutputValue::reveal)
    }

    /// Real values of the sensitive outputs, e.g. for `::add-mask::` in GitHub Actions.
    pub fn sensitive_values(&self) -> Vec<&JsonValue> {
        self.0
            .values()
            .filter(|o| o.sensitive)
            .filter_map(OutputValue::reveal)
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &OutputValue)> {
        self.0.iter()
    }
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            writeln!(f, "{name} = {value}")?;
        }
        Ok(())
    }
}

/// One event of a run: Terraform's own messages plus the runner's stage markers.
/// Serialized with a `type` field (snake_case) for `--events ndjson`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IacEvent {
    CommandStarted {
        command: IacCommand,
    },
    CommandFinished {
        command: IacCommand,
        elapsed_ms: u64,
        success: bool,
    },
    Version {
        terraform: String,
        ui: String,
    },
    PlannedChange {
        address: String,
        action: String,
    },
    ApplyStart {
        address: String,
        action: String,
    },
    ApplyProgress {
        address: String,
        action: String,
        elapsed_seconds: u64,
    },
    ApplyComplete {
        address: String,
        action: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        id_key: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id_value: Option<String>,
        elapsed_seconds: u64,
    },
    ApplyErrored {
        address: String,
        action: String,
        elapsed_seconds: u64,
    },
    Diagnostic(Diagnostic),
    ChangeSummary {
        /// `plan`, `apply` or `destroy`.
        operation: String,
        #[serde(flatten)]
        changes: ChangeSummary,
    },
    Outputs {
        outputs: Outputs,
    },
    /// A line that is not part of the JSON UI (e.g. `init`'s text, stderr) or a `log` message.
    Log {
        level: String,
        message: String,
    },
    /// A JSON UI message type the runner does not model (kept for the log viewer).
    Other {
        kind: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "@level", default)]
    level: String,
    #[serde(rename = "@message", default)]
    message: String,
    #[serde(default)]
    terraform: Option<String>,
    #[serde(default)]
    ui: Option<String>,
    #[serde(default)]
    hook: Option<RawHook>,
    #[serde(default)]
    change: Option<RawHook>,
    #[serde(default)]
    diagnostic: Option<RawDiagnostic>,
    #[serde(default)]
    changes: Option<RawChanges>,
    #[serde(default)]
    outputs: Option<BTreeMap<String, OutputValue>>,
    /// Stage markers the runner writes into the log file.
    #[serde(default)]
    plat: Option<JsonValue>,
}

#[derive(Deserialize)]
struct RawHook {
    resource: RawResource,
    #[serde(default)]
    action: String,
    #[serde(default)]
    id_key: Option<String>,
    #[serde(default)]
    id_value: Option<String>,
    #[serde(default)]
    elapsed_seconds: Option<u64>,
}

#[derive(Deserialize)]
struct RawResource {
    addr: String,
}

#[derive(Deserialize)]
struct RawDiagnostic {
    severity: Severity,
    summary: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    range: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawRange {
    filename: String,
    start: RawPos,
}

#[derive(Deserialize)]
struct RawPos {
    line: u64,
    column: u64,
}

#[derive(Deserialize)]
struct RawChanges {
    #[serde(flatten)]
    counts: ChangeSummary,
    #[serde(default)]
    operation: String,
}

/// Parses one line of Terraform's stdout. Lines that are not JSON UI messages become
/// [`IacEvent::Log`] so nothing is lost.
pub fn parse_line(line: &str) -> IacEvent {
    let trimmed = line.trim();
    let Some(raw) = trimmed
        .starts_with('{')
        .then(|| serde_json::from_str::<RawMessage>(trimmed).ok())
        .flatten()
    else {
        return IacEvent::Log {
            level: "info".into(),
            message: line.trim_end().to_string(),
        };
    };
    if let Some(marker) = raw.plat
        && let Ok(event) = serde_json::from_value::<RunnerMarker>(marker)
    {
        return event.into_event();
    }
    let hook = |hook: Option<RawHook>| hook.map(|h| (h.resource.addr.clone(), h));
    match raw.kind.as_str() {
        "version" => IacEvent::Version {
            terraform: raw.terraform.unwrap_or_default(),
            ui: raw.ui.unwrap_or_default(),
        },
        "planned_change" if raw.change.is_some() => {
            let (address, h) = hook(raw.change).expect("checked");
            IacEvent::PlannedChange {
                address,
                action: h.action,
            }
        }
        "apply_start" | "apply_progress" | "apply_complete" | "apply_errored"
            if raw.hook.is_some() =>
        {
            let (address, h) = hook(raw.hook).expect("checked");
            let elapsed_seconds = h.elapsed_seconds.unwrap_or(0);
            match raw.kind.as_str() {
                "apply_start" => IacEvent::ApplyStart {
                    address,
                    action: h.action,
                },
                "apply_progress" => IacEvent::ApplyProgress {
                    address,
                    action: h.action,
                    elapsed_seconds,
                },
                "apply_complete" => IacEvent::ApplyComplete {
                    address,
                    action: h.action,
                    id_key: h.id_key,
                    id_value: h.id_value,
                    elapsed_seconds,
                },
                _ => IacEvent::ApplyErrored {
                    address,
                    action: h.action,
                    elapsed_seconds,
                },
            }
        }
        "diagnostic" if raw.diagnostic.is_some() => {
            let d = raw.diagnostic.expect("checked");
            IacEvent::Diagnostic(Diagnostic {
                severity: d.severity,
                summary: d.summary,
                detail: d.detail,
                address: d.address,
                filename: d.range.as_ref().map(|r| r.filename.clone()),
                line: d.range.as_ref().map(|r| r.start.line),
                column: d.range.as_ref().map(|r| r.start.column),
            })
        }
        "change_summary" if raw.changes.is_some() => {
            let changes = raw.changes.expect("checked");
            IacEvent::ChangeSummary {
                operation: changes.operation,
                changes: changes.counts,
            }
        }
        "outputs" if raw.outputs.is_some() => IacEvent::Outputs {
            outputs: Outputs(raw.outputs.expect("checked")),
        },
        "log" => IacEvent::Log {
            level: raw.level,
            message: raw.message,
        },
        _ => IacEvent::Other {
            kind: raw.kind,
            message: raw.message,
        },
    }
}

#[cfg(test)]
/// Replays a log file written by the runner (for `plat env logs`).
pub fn parse_log(text: &str) -> Vec<IacEvent> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_line)
        .collect()
}

/// Stage markers interleaved with Terraform's stream in the log file, shaped like JSON UI
/// messages so that any JSON-lines reader can skip or show them.
#[derive(Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum RunnerMarker {
    Started {
        command: IacCommand,
    },
    Finished {
        command: IacCommand,
        elapsed_ms: u64,
        success: bool,
    },
    Stderr {
        message: String,
    },
    /// The command was not run: what it would do was copied from an earlier env's run.
    Reused {
        command: IacCommand,
    },
}

impl RunnerMarker {
    pub(crate) fn into_event(self) -> IacEvent {
        match self {
            Self::Started { command } => IacEvent::CommandStarted { command },
            Self::Finished {
                command,
                elapsed_ms,
                success,
            } => IacEvent::CommandFinished {
                command,
                elapsed_ms,
                success,
            },
            Self::Stderr { message } => IacEvent::Log {
                level: "error".into(),
                message,
            },
            reused @ Self::Reused { .. } => IacEvent::Log {
                level: "info".into(),
                message: reused.message(),
            },
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Started { command } => format!("plat: {command} started"),
            Self::Finished {
                command, success, ..
            } => format!(
                "plat: {command} {}",
                if *success { "finished" } else { "failed" }
            ),
            Self::Stderr { message } => message.clone(),
            Self::Reused { command } => {
                format!("plat: {command} reused from an earlier env of this template version")
            }
        }
    }

    pub(crate) fn to_log_line(&self) -> String {
        let message = self.message();
        let level = if matches!(self, Self::Stderr { .. }) {
            "error"
        } else {
            "info"
        };
        let line = serde_json::json!({
            "@level": level,
            "@message": message,
            "@module": "plat",
            "@timestamp": jiff::Timestamp::now().to_string(),
            "type": "plat",
            "plat": self,
        });
        line.to_string()
    }
}

/// Diagnostics from Terraform's human-readable error text (`init` has no `-json` in every
/// Terraform/OpenTofu version plat supports): `Error: summary`, `on file line N, in …:`, the
/// source snippet (skipped) and the detail.
pub fn parse_text_diagnostics(text: &str) -> Vec<Diagnostic> {
    static LOCATION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^on (.+?) line (\d+)").expect("valid regex")
    });
    static SNIPPET: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^\d+:").expect("valid regex"));
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start_matches(['│', '╷', '╵']).trim();
        let (severity, summary) = if let Some(summary) = line.strip_prefix("Error: ") {
            (Some(Severity::Error), summary)
        } else if let Some(summary) = line.strip_prefix("Warning: ") {
            (Some(Severity::Warning), summary)
        } else {
            (None, "")
        };
        if let Some(severity) = severity {
            diagnostics.push(Diagnostic {
                severity,
                summary: summary.trim().to_string(),
                detail: String::new(),
                address: None,
                filename: None,
                line: None,
                column: None,
            });
            continue;
        }
        let Some(current) = diagnostics.last_mut() else {
            continue;
        };
        if let Some(location) = LOCATION.captures(line)
            && current.filename.is_none()
        {
            current.filename = Some(location[1].to_string());
            current.line = location[2].parse().ok();
        } else if !line.is_empty() && !SNIPPET.is_match(line) {
            if !current.detail.is_empty() {
                current.detail.push(' ');
            }
            current.detail.push_str(line);
        }
    }
    diagnostics
}
