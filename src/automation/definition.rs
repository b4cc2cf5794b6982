//! The automation definition: a versioned YAML document whose field names are part of the
//! contract (issue 7). Parsed with serde (which gives type errors with their line), then checked
//! for what types cannot say: cron syntax, known actions, expressions that read parameters that
//! do not exist or outputs of steps that have not run yet.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const API_VERSION: &str = "plat.dev/v1";
pub const KIND: &str = "Automation";

/// The step actions this plat runs.
pub const ACTIONS: [&str; 6] = ["http", "exec", "env.up", "env.down", "scaffold", "scan"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Runner>,
    /// Limit for the whole run, e.g. `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    /// A parameter without a default must be given to `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    #[default]
    String,
    Number,
    Integer,
    Boolean,
}

impl ParamType {
    /// Reads a `--param k=v` value as this type.
    pub fn parse(self, text: &str) -> Result<Value, String> {
        match self {
            Self::String => Ok(Value::String(text.to_owned())),
            Self::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("'{text}' is not an integer")),
            Self::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("'{text}' is not a number")),
            Self::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("'{text}' is not true or false")),
            },
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
        }
    }
}

/// What starts a run (R-AUT-3). `manual` and `constant` are plain words; `schedule` and `queue`
/// carry settings (`{ schedule: { cron, timezone } }`), `webhook` may (`{ webhook: { secret_env } }`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    #[default]
    Manual,
    Schedule(Schedule),
    Constant,
    Queue(QueueTrigger),
    Webhook(WebhookTrigger),
}

impl Trigger {
    /// One line for listings.
    pub fn summary(&self) -> String {
        match self {
            Self::Manual => "manual".into(),
            Self::Schedule(s) => format!("schedule {} {}", s.cron, s.timezone),
            Self::Constant => "constant".into(),
            Self::Queue(q) => format!("queue {}", q.name),
            Self::Webhook(_) => "webhook".into(),
        }
    }

    /// Runs of this trigger start without anyone to pass `--param`: every parameter needs a
    /// default, except the payload a webhook brings.
    pub fn is_unattended(&self) -> bool {
        matches!(self, Self::Schedule(_) | Self::Constant | Self::Webhook(_))
    }
}

/// The parameter a webhook's payload arrives in.
pub const WEBHOOK_EVENT_PARAM: &str = "event";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub cron: String,
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// An incoming webhook. Callers sign the body with HMAC-SHA256 under a secret the server reads
/// from its environment variable `secret_env`; without one the webhook cannot be called.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookTrigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueTrigger {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub input: Value,
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default)]
    pub continue_on_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Hands the run to an engine outside plat: a container run as a Kubernetes Job, or a flow
/// (n8n, Node-RED) started by a signed webhook (R-AUT-2).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Runner {
    KubernetesJob(KubernetesJob),
    Webhook(WebhookRunner),
}

impl Runner {
    /// Also the id of the one step a run of this runner records.
    pub fn action(&self) -> &'static str {
        match self {
            Self::KubernetesJob(_) => KUBERNETES_JOB,
            Self::Webhook(_) => WEBHOOK,
        }
    }

    fn settings(&self) -> Value {
        match self {
            Self::KubernetesJob(job) => serde_json::to_value(job),
            Self::Webhook(hook) => serde_json::to_value(hook),
        }
        .unwrap_or_default()
    }
}

pub const KUBERNETES_JOB: &str = "kubernetes-job";
pub const WEBHOOK: &str = "webhook";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubernetesJob {
    pub image: String,
    /// The container's entrypoint; the image's own when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// A Kubernetes `resources` block: `{ requests: {cpu, memory}, limits: {...} }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    /// The kubeconfig's namespace for the context when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The kubeconfig context, as `plat scan --kube --kube-context`; the current one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How long Kubernetes keeps the finished Job and its pod (and so its logs), e.g. `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_after_finished: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookRunner {
    pub url: String,
    /// The environment variable holding the HMAC key the body is signed with; the secret itself
    /// never goes in a definition, which every reader of the account sees. Unsigned without.
    /// (`secret` is what definitions stored before runners ran called it.)
    #[serde(default, alias = "secret", skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

// YAML spells a variant with settings as a one-key mapping (`{ schedule: {...} }`), which
// serde_yaml_ng reads only as a `!tag`; these mappings take the key form (and JSON's too).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerMap {
    schedule: Option<Schedule>,
    queue: Option<QueueTrigger>,
    manual: Option<serde::de::IgnoredAny>,
    constant: Option<serde::de::IgnoredAny>,
    webhook: Option<WebhookTrigger>,
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Trigger;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("manual, constant, webhook, { schedule: { cron, timezone } }, { webhook: { secret_env } } or { queue: { name } }")
            }
            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<Trigger, E> {
                match word {
                    "manual" => Ok(Trigger::Manual),
                    "constant" => Ok(Trigger::Constant),
                    "webhook" => Ok(Trigger::Webhook(WebhookTrigger::default())),
                    "schedule" | "queue" => Err(E::custom(format!(
                        "the {word} trigger needs settings, e.g. {{ {word}: {{ ... }} }}"
                    ))),
                    other => Err(E::unknown_variant(
                        other,
                        &["manual", "schedule", "constant", "queue", "webhook"],
                    )),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Trigger, A::Error> {
                let map =
                    TriggerMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let mut found = Vec::new();
                if let Some(schedule) = map.schedule {
                    found.push(Trigger::Schedule(schedule));
                }
                if let Some(queue) = map.queue {
                    found.push(Trigger::Queue(queue));
                }
                if map.manual.is_some() {
                    found.push(Trigger::Manual);
                }
                if map.constant.is_some() {
                    found.push(Trigger::Constant);
                }
                if let Some(webhook) = map.webhook {
                    found.push(Trigger::Webhook(webhook));
                }
                match found.len() {
                    1 => Ok(found.remove(0)),
                    _ => Err(serde::de::Error::custom("a trigger names exactly one kind")),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunnerMap {
    #[serde(rename = "kubernetes-job")]
    kubernetes_job: Option<KubernetesJob>,
    webhook: Option<WebhookRunner>,
}

impl<'de> Deserialize<'de> for Runner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = RunnerMap::deserialize(deserializer)?;
        match (map.kubernetes_job, map.webhook) {
            (Some(job), None) => Ok(Runner::KubernetesJob(job)),
            (None, Some(hook)) => Ok(Runner::Webhook(hook)),
            _ => Err(serde::de::Error::custom(
                "a runner is exactly one of { kubernetes-job: {...} } or { webhook: {...} }",
            )),
        }
    }
}

/// Something wrong in a definition, with the YAML keys that lead to it (used to find its line).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub anchors: Vec<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(anchors: &[&str], message: impl Into<String>) -> Self {
        Self {
            anchors: anchors.iter().map(|a| (*a).to_owned()).collect(),
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A definition refused at `apply`, located in its file.
#[derive(Debug, Clone)]
pub struct DefinitionError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for DefinitionError {}

impl Definition {
    /// Parses and validates a YAML document; every error names `file` and a line.
    pub fn from_yaml(file: &str, source: &str) -> Result<Definition, DefinitionError> {
        let definition: Definition =
            serde_yaml_ng::from_str(source).map_err(|err| DefinitionError {
                file: file.to_owned(),
                line: err.location().map(|l| l.line()),
                message: strip_location(&err.to_string()),
                hint: Some(
                    "see `plat automation apply --help` for the definition format".to_owned(),
                ),
            })?;
        if let Some(problem) = definition.problems().into_iter().next() {
            return Err(DefinitionError {
                file: file.to_owned(),
                line: locate(source, &problem.anchors),
                message: problem.message,
                hint: problem.hint,
            });
        }
        Ok(definition)
    }

    /// Everything wrong with the definition, in document order. Empty means valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.api_version != API_VERSION {
            problems.push(
                Problem::new(
                    &["apiVersion:"],
                    format!("unsupported apiVersion '{}'", self.api_version),
                )
                .hint(format!("use `apiVersion: {API_VERSION}`")),
            );
        }
        if self.kind != KIND {
            problems.push(
                Problem::new(&["kind:"], format!("unsupported kind '{}'", self.kind))
                    .hint(format!("use `kind: {KIND}`")),
            );
        }
        if crate::service::vocabulary::check_slug("automation name", &self.metadata.name).is_err() {
            problems.push(
                Problem::new(
                    &["metadata:", "name:"],
                    format!("invalid automation name '{}'", self.metadata.name),
                )
                .hint("use 1-63 lowercase letters, digits and '-'"),
            );
        }
        let mut parameters = BTreeSet::new();
        for parameter in &self.spec.parameters {
            let anchor = format!("name: {}", parameter.name);
            if !parameters.insert(parameter.name.as_str()) {
                problems.push(Problem::new(
                    &["parameters:", &anchor],
                    format!("parameter '{}' is declared twice", parameter.name),
                ));
            }
            if let Some(default) = &parameter.default
                && !parameter.kind.accepts(default)
            {
                problems.push(Problem::new(
                    &["parameters:", &anchor],
                    format!(
                        "the default of parameter '{}' is not a {}",
                        parameter.name,
                        parameter.kind.name()
                    ),
                ));
            }
        }
        self.trigger_problems(&mut problems);
        if let Some(timeout) = &self.spec.timeout
            && super::parse_duration(timeout).is_none()
        {
            problems.push(
                Problem::new(
                    &["spec:", "timeout:"],
                    format!("invalid timeout '{timeout}'"),
                )
                .hint("write a duration such as 30s, 5m or 1h"),
            );
        }
        match (&self.spec.runner, self.spec.steps.is_empty()) {
            (Some(_), false) => problems.push(Problem::new(
                &["runner:"],
                "a definition has either `steps` or a `runner`, not both",
            )),
            (None, true) => problems.push(
                Problem::new(&["spec:"], "the definition has no `steps` and no `runner`")
                    .hint("add steps (actions: http, exec, env.up, env.down, scaffold, scan) or a runner (kubernetes-job, webhook)"),
            ),
            (Some(runner), true) => runner_problems(runner, &parameters, &mut problems),
            (None, false) => {}
        }
        if matches!(self.spec.trigger, Trigger::Webhook(_)) {
            // The payload of the request that started the run, declared or not.
            parameters.insert(WEBHOOK_EVENT_PARAM);
        }
        self.step_problems(&parameters, &mut problems);
        problems
    }

    fn trigger_problems(&self, problems: &mut Vec<Problem>) {
        match &self.spec.trigger {
            Trigger::Schedule(schedule) => {
                if let Err(why) = super::cron::validate(&schedule.cron) {
                    problems.push(
                        Problem::new(&["trigger:", "cron:"], format!("bad cron expression: {why}"))
                            .hint("five fields: minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\" (a sixth, leading field counts seconds)"),
                    );
                }
                if jiff::tz::TimeZone::get(&schedule.timezone).is_err() {
                    problems.push(
                        Problem::new(
                            &["trigger:", "timezone:"],
                            format!("unknown time zone '{}'", schedule.timezone),
                        )
                        .hint("use an IANA name such as UTC or Europe/Berlin"),
                    );
                }
            }
            Trigger::Queue(queue) if queue.name.trim().is_empty() => {
                problems.push(Problem::new(
                    &["trigger:", "queue:"],
                    "the queue needs a name",
                ));
            }
            Trigger::Webhook(WebhookTrigger {
                secret_env: Some(name),
            }) if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                problems.push(
                    Problem::new(
                        &["trigger:", "secret_env:"],
                        format!("invalid environment variable name '{name}'"),
                    )
                    .hint(
                        "name the server's variable holding the secret, e.g. PRICES_WEBHOOK_SECRET",
                    ),
                );
            }
            _ => {}
        }
        if self.spec.trigger.is_unattended() {
            for parameter in &self.spec.parameters {
                let payload = matches!(self.spec.trigger, Trigger::Webhook(_))
                    && parameter.name == WEBHOOK_EVENT_PARAM;
                if parameter.default.is_none() && !payload {
                    problems.push(
                        Problem::new(
                            &["parameters:", &format!("name: {}", parameter.name)],
                            format!(
                                "parameter '{}' needs a default: a {} trigger starts runs without --param",
                                parameter.name,
                                self.spec.trigger.summary().split(' ').next().unwrap_or_default()
                            ),
                        )
                        .hint("give it a `default`"),
                    );
                }
            }
        }
    }

    fn step_problems(&self, parameters: &BTreeSet<&str>, problems: &mut Vec<Problem>) {
        let ids: BTreeSet<&str> = self.spec.steps.iter().map(|s| s.id.as_str()).collect();
        let mut earlier = BTreeSet::new();
        for step in &self.spec.steps {
            let at = format!("id: {}", step.id);
            let anchors = ["steps:", at.as_str()];
            if step.id.is_empty()
                || !step
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                problems.push(
                    Problem::new(&anchors, format!("invalid step id '{}'", step.id))
                        .hint("use letters, digits, '_' and '-'"),
                );
            }
            if earlier.contains(step.id.as_str()) {
                problems.push(Problem::new(
                    &anchors,
                    format!("step id '{}' is used twice", step.id),
                ));
            }
            let action_anchor = ["steps:", at.as_str(), "action:"];
            if !ACTIONS.contains(&step.action.as_str()) {
                let problem = Problem::new(
                    &action_anchor,
                    format!("step '{}': unknown action '{}'", step.id, step.action),
                );
                problems.push(problem.hint(format!("actions are: {}", ACTIONS.join(", "))));
            } else if let Some(why) = input_problem(&step.action, &step.input) {
                problems.push(Problem::new(
                    &["steps:", at.as_str(), "input:"],
                    format!("step '{}': {why}", step.id),
                ));
            }
            if let Some(timeout) = &step.timeout
                && super::parse_duration(timeout).is_none()
            {
                problems.push(
                    Problem::new(
                        &["steps:", at.as_str(), "timeout:"],
                        format!("step '{}': invalid timeout '{timeout}'", step.id),
                    )
                    .hint("write a duration such as 30s, 5m or 1h"),
                );
            }
            let mut texts = Vec::new();
            strings(&step.input, &mut texts);
            if let Some(condition) = &step.condition {
                strings(condition, &mut texts);
            }
            for text in texts {
                for (root, name) in references(text) {
                    match root {
                        "parameters" if !parameters.contains(name.as_str()) => problems.push(
                            Problem::new(
                                &["steps:", at.as_str(), "parameters."],
                                format!(
                                    "step '{}' reads parameter '{name}', which is not declared",
                                    step.id
                                ),
                            )
                            .hint("declare it under spec.parameters"),
                        ),
                        "steps" if !earlier.contains(name.as_str()) => {
                            let why = if name == step.id {
                                "its own output".to_owned()
                            } else if ids.contains(name.as_str()) {
                                format!("the output of step '{name}', which runs later")
                            } else {
                                format!("the output of step '{name}', which does not exist")
                            };
                            problems.push(
                                Problem::new(
                                    &["steps:", at.as_str(), &format!("steps.{name}")],
                                    format!("step '{}' reads {why}", step.id),
                                )
                                .hint("a step can only read outputs of the steps before it"),
                            );
                        }
                        _ => {}
                    }
                }
            }
            earlier.insert(step.id.as_str());
        }
    }

    /// What a run executes, in order: the steps, or the runner as the one step named after its
    /// kind, so that a runner's result, logs, timeout and cancellation are recorded like a step's.
    pub fn plan(&self) -> Vec<Step> {
        match &self.spec.runner {
            Some(runner) => vec![Step {
                id: runner.action().to_owned(),
                name: None,
                action: runner.action().to_owned(),
                input: runner.settings(),
                condition: None,
                continue_on_error: false,
                timeout: None,
            }],
            None => self.spec.steps.clone(),
        }
    }

    /// The parameters of a run: given values typed, defaults filled in, every missing one named.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<serde_json::Map<String, Value>, String> {
        let mut resolved = serde_json::Map::new();
        let mut missing = Vec::new();
        for name in given.keys() {
            if !self.spec.parameters.iter().any(|p| &p.name == name) {
                return Err(format!(
                    "unknown parameter '{name}' (declared: {})",
                    self.parameter_names()
                ));
            }
        }
        for parameter in &self.spec.parameters {
            match (given.get(&parameter.name), &parameter.default) {
                (Some(text), _) => {
                    let value = parameter
                        .kind
                        .parse(text)
                        .map_err(|why| format!("parameter '{}': {why}", parameter.name))?;
                    resolved.insert(parameter.name.clone(), value);
                }
                (None, Some(default)) => {
                    resolved.insert(parameter.name.clone(), default.clone());
                }
                (None, None) => missing.push(parameter.name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing required parameter(s): {}",
                missing.join(", ")
            ));
        }
        Ok(resolved)
    }

    fn parameter_names(&self) -> String {
        if self.spec.parameters.is_empty() {
            return "none".into();
        }
        self.spec
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn runner_problems(runner: &Runner, parameters: &BTreeSet<&str>, problems: &mut Vec<Problem>) {
    let invalid_duration = |text: &Option<String>| {
        text.as_deref()
            .is_some_and(|t| !t.contains("${{") && super::parse_duration(t).is_none())
    };
    match runner {
        Runner::KubernetesJob(job) => {
            if job.image.trim().is_empty() {
                problems.push(Problem::new(
                    &["runner:", "image:"],
                    "the kubernetes-job runner needs an image",
                ));
            }
            if let Some(why) = job.resources.as_ref().and_then(resources_problem) {
                problems.push(Problem::new(&["runner:", "resources:"], why));
            }
            if let Some(namespace) = &job.namespace
                && !namespace.contains("${{")
                && crate::service::vocabulary::check_slug("namespace", namespace).is_err()
            {
                problems.push(
                    Problem::new(
                        &["runner:", "namespace:"],
                        format!("invalid namespace '{namespace}'"),
                    )
                    .hint("use 1-63 lowercase letters, digits and '-'"),
                );
            }
            if invalid_duration(&job.ttl_after_finished) {
                problems.push(
                    Problem::new(
                        &["runner:", "ttl_after_finished:"],
                        "invalid ttl_after_finished",
                    )
                    .hint("write a duration such as 30m or 1h"),
                );
            }
        }
        Runner::Webhook(hook) => {
            if !hook.url.contains("${{")
                && crate::service::vocabulary::check_url("webhook url", &hook.url).is_err()
            {
                problems.push(
                    Problem::new(
                        &["runner:", "url:"],
                        format!("invalid webhook url '{}'", hook.url),
                    )
                    .hint("use an absolute http(s) URL"),
                );
            }
            if let Some(name) = &hook.secret_env
                && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                problems.push(
                    Problem::new(
                        &["runner:", "secret_env:"],
                        format!("invalid secret_env '{name}'"),
                    )
                    .hint("name an environment variable, e.g. N8N_WEBHOOK_SECRET"),
                );
            }
            if hook.retries.is_some_and(|n| n > 10) {
                problems.push(Problem::new(
                    &["runner:", "retries:"],
                    "`retries` must be a whole number from 0 to 10",
                ));
            }
            for (key, value) in [("backoff:", &hook.backoff), ("timeout:", &hook.timeout)] {
                if invalid_duration(value) {
                    problems.push(
                        Problem::new(
                            &["runner:", key],
                            format!("invalid {}", &key[..key.len() - 1]),
                        )
                        .hint("write a duration such as 500ms, 30s or 5m"),
                    );
                }
            }
        }
    }
    // A runner runs alone: it can read the parameters and nothing else.
    let settings = runner.settings();
    let mut texts = Vec::new();
    strings(&settings, &mut texts);
    for text in texts {
        for (root, name) in references(text) {
            let why = match root {
                "parameters" if !parameters.contains(name.as_str()) => format!(
                    "the {} runner reads parameter '{name}', which is not declared",
                    runner.action()
                ),
                "steps" => format!(
                    "the {} runner reads the output of step '{name}', but a runner has no steps",
                    runner.action()
                ),
                _ => continue,
            };
            problems.push(Problem::new(&["runner:", &format!("{root}.{name}")], why));
        }
    }
}

/// A `resources` block as Kubernetes takes it: requests and limits of quantities.
fn resources_problem(resources: &Value) -> Option<String> {
    let Some(object) = resources.as_object() else {
        return Some("`resources` must be a mapping of `requests` and `limits`".into());
    };
    for (key, quantities) in object {
        if key != "requests" && key != "limits" {
            return Some(format!(
                "unknown resources key '{key}' (known: requests, limits)"
            ));
        }
        let valid = quantities.as_object().is_some_and(|q| {
            q.values()
                .all(|v| v.is_string() || v.is_u64() || v.is_f64())
        });
        if !valid {
            return Some(format!(
                "resources.{key} must map resource names to quantities, e.g. {{ cpu: 500m, memory: 256Mi }}"
            ));
        }
    }
    None
}

/// What is wrong with a step's input for its action, checked before any expression is rendered.
fn input_problem(action: &str, input: &Value) -> Option<String> {
    let object = match input {
        Value::Object(object) => object,
        Value::Null => return Some("`input` is missing".into()),
        _ => return Some("`input` must be a mapping".into()),
    };
    match action {
        "http" => {
            const KEYS: [&str; 7] = [
                "method", "url", "headers", "body", "retries", "timeout", "backoff",
            ];
            if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
                return Some(format!(
                    "unknown http input '{key}' (known: {})",
                    KEYS.join(", ")
                ));
            }
            if !object.get("url").is_some_and(Value::is_string) {
                return Some("the http action needs a `url`".into());
            }
            if let Some(method) = object.get("method").and_then(Value::as_str)
                && !method.contains("${{")
                && reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).is_err()
            {
                return Some(format!("invalid HTTP method '{method}'"));
            }
            if let Some(retries) = object.get("retries")
                && retries.as_u64().is_none_or(|n| n > 10)
            {
                return Some("`retries` must be a whole number from 0 to 10".into());
            }
        }
        "exec" => {
            const KEYS: [&str; 3] = ["command", "env", "cwd"];
            if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
                return Some(format!(
                    "unknown exec input '{key}' (known: {})",
                    KEYS.join(", ")
                ));
            }
            let command = object.get("command").and_then(Value::as_array);
            if !command.is_some_and(|c| !c.is_empty() && c.iter().all(Value::is_string)) {
                return Some(
                    "the exec action needs a `command`: a non-empty list of strings".into(),
                );
            }
        }
        "env.up" => {
            if let Some(why) = unknown_key("env.up", object, &["template", "name", "ttl", "vars"])
                .or_else(|| required_strings("env.up", object, &["template", "name"]))
            {
                return Some(why);
            }
            if let Some(ttl) = object.get("ttl")
                && !ttl
                    .as_str()
                    .is_some_and(|t| t.contains("${{") || super::parse_duration(t).is_some())
            {
                return Some("`ttl` must be a duration such as 45m or 2h".into());
            }
            if object.get("vars").is_some_and(|v| !v.is_object()) {
                return Some("`vars` must be a mapping of the template's parameters".into());
            }
        }
        "env.down" => {
            return unknown_key("env.down", object, &["name"])
                .or_else(|| required_strings("env.down", object, &["name"]));
        }
        "scaffold" => {
            if let Some(why) = unknown_key("scaffold", object, &["template", "target", "values"])
                .or_else(|| required_strings("scaffold", object, &["template", "target"]))
            {
                return Some(why);
            }
            if object.get("values").is_some_and(|v| !v.is_object()) {
                return Some("`values` must be a mapping of the template's parameters".into());
            }
        }
        "scan" => {
            if let Some(why) = unknown_key("scan", object, &["path", "env", "fail_on"]) {
                return Some(why);
            }
            let named = ["path", "env"]
                .iter()
                .filter(|key| object.get(**key).is_some_and(Value::is_string))
                .count();
            if named != 1 {
                return Some(
                    "the scan action needs exactly one of `path` (files, a directory) or `env` (an environment's state)"
                        .into(),
                );
            }
            if let Some(fail_on) = object.get("fail_on")
                && !fail_on.as_str().is_some_and(|f| {
                    f.contains("${{") || ["error", "warning", "never"].contains(&f)
                })
            {
                return Some("`fail_on` is one of error, warning, never".into());
            }
        }
        _ => {}
    }
    None
}

fn unknown_key(
    action: &str,
    input: &serde_json::Map<String, Value>,
    known: &[&str],
) -> Option<String> {
    input
        .keys()
        .find(|k| !known.contains(&k.as_str()))
        .map(|key| {
            format!(
                "unknown {action} input '{key}' (known: {})",
                known.join(", ")
            )
        })
}

fn required_strings(
    action: &str,
    input: &serde_json::Map<String, Value>,
    required: &[&str],
) -> Option<String> {
    required
        .iter()
        .find(|key| {
            input
                .get(**key)
                .and_then(Value::as_str)
                .is_none_or(|v| v.trim().is_empty())
        })
        .map(|key| format!("the {action} action needs a `{key}`"))
}

fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

/// `parameters.x`, `steps.x`, `steps['x']` and `steps["x"]` inside `${{ }}` or `{% %}`.
fn references(text: &str) -> Vec<(&'static str, String)> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(
            r#"\b(parameters|steps)(?:\.([A-Za-z0-9_-]+)|\[\s*['"]([^'"]+)['"]\s*\])"#,
        )
        .expect("valid regex")
    });
    let mut found = Vec::new();
    for block in expression_blocks(text) {
        for caps in pattern.captures_iter(block) {
            let root = if &caps[1] == "parameters" {
                "parameters"
            } else {
                "steps"
            };
            if let Some(name) = caps.get(2).or_else(|| caps.get(3)) {
                found.push((root, name.as_str().to_owned()));
            }
        }
    }
    found
}

fn expression_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    for (open, close) in [("${{", "}}"), ("{%", "%}")] {
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len()..];
            let end = after.find(close).unwrap_or(after.len());
            blocks.push(&after[..end]);
            rest = &after[end..];
        }
    }
    blocks
}

/// serde_yaml_ng appends " at line L column C"; the line goes in front instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The line of the last anchor, each searched for after the previous one. An anchor `id: x`
/// also matches quoted and flow-style spellings.
fn locate(source: &str, anchors: &[String]) -> Option<usize> {
    let mut from = 0;
    let mut found = None;
    for anchor in anchors {
        let hit = find_anchor(&source[from..], anchor).map(|at| at + from);
        if let Some(at) = hit {
            found = Some(at);
            from = at;
        }
    }
    found.map(|at| source[..at].matches('\n').count() + 1)
}

fn find_anchor(text: &str, anchor: &str) -> Option<usize> {
    if let Some((key, value)) = anchor.split_once(": ") {
        let pattern = format!(
            r#"\b{}\s*:\s*["']?{}["']?(\s|,|\}}|$)"#,
            regex::escape(key),
            regex::escape(value)
        );
        return regex::Regex::new(&pattern)
            .ok()?
            .find(text)
            .map(|m| m.start());
    }
    text.find(anchor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"apiVersion: plat.dev/v1
kind: Automation
metadata: { name: collect-prices, description: Collect prices and store them }
spec:
  parameters:
    - { name: source, type: string, default: "http://127.0.0.1:8000/prices.json" }
  trigger: { schedule: { cron: "*/5 * * * *", timezone: UTC } }
  steps:
    - id: fetch
      action: http
      input: { method: GET, url: "${{ parameters.source }}", retries: 2 }
    - id: store
      action: exec
      input: { command: ["sh", "-c", "echo stored ${{ steps.fetch.output.status }}"] }
"#;

    #[test]
    fn the_issue_example_is_valid() {
        let definition = Definition::from_yaml("a.yaml", EXAMPLE).unwrap();
        assert_eq!(definition.metadata.name, "collect-prices");
        assert_eq!(
            definition.spec.trigger.summary(),
            "schedule */5 * * * * UTC"
        );
        assert_eq!(definition.spec.steps.len(), 2);
    }

    #[test]
    fn errors_carry_their_line() {
        let bad_cron = EXAMPLE.replace("*/5 * * * *", "*/5 * * *");
        let err = Definition::from_yaml("a.yaml", &bad_cron).unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
        let later = EXAMPLE.replace("parameters.source", "steps.store.output.stdout");
        let err = Definition::from_yaml("a.yaml", &later).unwrap_err();
        assert_eq!(err.line, Some(11), "{err}");
        assert!(err.message.contains("runs later"), "{err}");
        let unknown = EXAMPLE.replace("action: exec", "action: teleport");
        let err = Definition::from_yaml("a.yaml", &unknown).unwrap_err();
        assert_eq!(err.line, Some(13), "{err}");
        let typo = EXAMPLE.replace("retries: 2", "retries: 2, colour: red");
        let err = Definition::from_yaml("a.yaml", &typo).unwrap_err();
        assert_eq!(err.line, Some(11), "{err}");
        let field = EXAMPLE.replace("  trigger:", "  triger:");
        let err = Definition::from_yaml("a.yaml", &field).unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
    }

    #[test]
    fn parameters_are_typed_and_required_ones_named() {
        let mut definition = Definition::from_yaml("a.yaml", EXAMPLE).unwrap();
        definition.spec.parameters.push(Parameter {
            name: "count".into(),
            kind: ParamType::Integer,
            default: None,
            description: None,
        });
        let err = definition.resolve_params(&BTreeMap::new()).unwrap_err();
        assert!(err.contains("count"), "{err}");
        let given = BTreeMap::from([("count".to_owned(), "x".to_owned())]);
        assert!(definition.resolve_params(&given).is_err());
        let given = BTreeMap::from([("count".to_owned(), "3".to_owned())]);
        let params = definition.resolve_params(&given).unwrap();
        assert_eq!(params["count"], 3);
        assert_eq!(params["source"], "http://127.0.0.1:8000/prices.json");
    }

    #[test]
    fn unattended_triggers_need_defaults_and_webhooks_bring_an_event() {
        let required = EXAMPLE.replace(r#"default: "http://127.0.0.1:8000/prices.json" }"#, "}");
        let err = Definition::from_yaml("a.yaml", &required).unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        assert!(err.message.contains("needs a default"), "{err}");
        let manual = required.replace(
            r#"{ schedule: { cron: "*/5 * * * *", timezone: UTC } }"#,
            "manual",
        );
        assert!(Definition::from_yaml("a.yaml", &manual).is_ok());

        let hook = EXAMPLE
            .replace(
                r#"{ schedule: { cron: "*/5 * * * *", timezone: UTC } }"#,
                "{ webhook: { secret_env: PRICES_SECRET } }",
            )
            .replace("stored ${{ steps", "${{ parameters.event.sku }} ${{ steps");
        let definition = Definition::from_yaml("a.yaml", &hook).unwrap();
        assert_eq!(
            definition.spec.trigger,
            Trigger::Webhook(WebhookTrigger {
                secret_env: Some("PRICES_SECRET".into())
            })
        );
        let plain = hook.replace("{ webhook: { secret_env: PRICES_SECRET } }", "webhook");
        assert!(Definition::from_yaml("a.yaml", &plain).is_ok());
        let bad = hook.replace("PRICES_SECRET", "\"not a name\"");
        let err = Definition::from_yaml("a.yaml", &bad).unwrap_err();
        assert!(err.message.contains("environment variable"), "{err}");
        // Stored as JSON and read back unchanged.
        let json = serde_json::to_value(&definition).unwrap();
        let back: Definition = serde_json::from_value(json).unwrap();
        assert_eq!(back, definition);
    }
}
