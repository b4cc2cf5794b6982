//! How each wire type reads as a table row and as a detail view.

use crate::api::{Account, AuditEvent, AuditOutcome, Group, Tenant, User, WhoAmI};
use crate::config::ContextConfig;

pub trait Row {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

pub trait Details {
    fn details(&self) -> Vec<(&'static str, String)>;
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

fn joined(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

impl Row for Account {
    const HEADERS: &'static [&'static str] =
        &["SLUG", "NAME", "TENANT", "OWNER", "PARENT", "ROLES"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.slug.clone(),
            self.name.clone(),
            self.tenant.clone(),
            self.owner.clone(),
            or_dash(self.parent.as_deref()),
            joined(&self.roles),
        ]
    }
}

impl Details for Account {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("slug", self.slug.clone()),
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("tenant", self.tenant.clone()),
            ("owner", self.owner.clone()),
            ("parent", or_dash(self.parent.as_deref())),
            ("roles", joined(&self.roles)),
            ("created", self.created_at.to_string()),
        ]
    }
}

impl Row for AuditEvent {
    const HEADERS: &'static [&'static str] = &[
        "TIME", "ACTOR", "ACCOUNT", "ACTION", "TARGET", "OUTCOME", "SOURCE", "REQUEST",
    ];
    fn cells(&self) -> Vec<String> {
        let actor = match &self.delegated_by {
            Some(service) => format!("{} (via {service})", self.actor),
            None => self.actor.clone(),
        };
        let outcome = match (self.outcome, &self.error_code) {
            (AuditOutcome::Refused, Some(code)) => format!("refused: {code}"),
            (outcome, _) => outcome.as_str().to_owned(),
        };
        vec![
            self.at.to_string(),
            actor,
            self.account.clone(),
            self.action.clone(),
            self.target.clone(),
            outcome,
            self.source.clone(),
            self.request_id.clone(),
        ]
    }
}

impl Row for Tenant {
    const HEADERS: &'static [&'static str] =
        &["NAME", "DOMAIN", "OWNER ACCOUNT", "COLOR", "DESCRIPTION"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.domain.clone(),
            or_dash(self.owner_account.as_deref()),
            or_dash(self.branding.primary_color.as_deref()),
            or_dash(self.branding.description.as_deref()),
        ]
    }
}

impl Details for Tenant {
    fn details(&self) -> Vec<(&'static str, String)> {
        let layout: Vec<String> = self
            .branding
            .layout
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![
            ("name", self.name.clone()),
            ("domain", self.domain.clone()),
            ("id", self.id.clone()),
            ("owner account", or_dash(self.owner_account.as_deref())),
            ("logo", or_dash(self.branding.logo_url.as_deref())),
            (
                "primary color",
                or_dash(self.branding.primary_color.as_deref()),
            ),
            (
                "secondary color",
                or_dash(self.branding.secondary_color.as_deref()),
            ),
            ("description", or_dash(self.branding.description.as_deref())),
            ("layout", joined(&layout)),
            ("created", self.created_at.to_string()),
        ]
    }
}

impl Row for User {
    const HEADERS: &'static [&'static str] = &["EMAIL", "NAME", "STATUS", "GROUPS", "LINKED"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.email.clone(),
            or_dash(self.name.as_deref()),
            self.status.as_str().to_owned(),
            joined(&self.groups),
            self.linked_at.to_string(),
        ]
    }
}

impl Details for User {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("email", self.email.clone()),
            ("name", or_dash(self.name.as_deref())),
            ("id", self.id.clone()),
            ("status", self.status.as_str().to_owned()),
            ("groups", joined(&self.groups)),
            ("linked", self.linked_at.to_string()),
        ]
    }
}

impl Row for Group {
    const HEADERS: &'static [&'static str] = &["NAME", "PERMISSIONS", "MEMBERS", "PREDEFINED"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            joined(&self.permissions),
            self.members.len().to_string(),
            if self.builtin { "yes" } else { "no" }.to_owned(),
        ]
    }
}

impl Details for Group {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("permissions", joined(&self.permissions)),
            ("members", joined(&self.members)),
            ("idp groups", joined(&self.idp_groups)),
            (
                "predefined",
                if self.builtin { "yes" } else { "no" }.to_owned(),
            ),
            ("created", self.created_at.to_string()),
        ]
    }
}

impl Details for WhoAmI {
    fn details(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("user", self.user.clone()),
            ("account", self.account.clone()),
            ("tenant", self.tenant.clone()),
            ("roles", joined(&self.roles)),
            ("permissions", joined(&self.permissions)),
        ];
        if let Some(service) = &self.delegated_by {
            rows.push(("delegated by", service.clone()));
        }
        rows
    }
}

/// A context as listed: the current one is marked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContextEntry {
    pub current: bool,
    #[serde(flatten)]
    pub context: ContextConfig,
}

impl Row for ContextEntry {
    const HEADERS: &'static [&'static str] =
        &["CURRENT", "NAME", "KIND", "SERVER", "USER", "ACCOUNT"];
    fn cells(&self) -> Vec<String> {
        vec![
            if self.current { "*" } else { "" }.to_owned(),
            self.context.name.clone(),
            self.context.kind().to_owned(),
            or_dash(self.context.server.as_deref()),
            or_dash(self.context.user.as_deref()),
            or_dash(self.context.account.as_deref()),
        ]
    }
}

impl Details for ContextEntry {
    fn details(&self) -> Vec<(&'static str, String)> {
        let c = &self.context;
        vec![
            ("name", c.name.clone()),
            (
                "current",
                if self.current { "yes" } else { "no" }.to_owned(),
            ),
            ("kind", c.kind().to_owned()),
            ("server", or_dash(c.server.as_deref())),
            ("database", or_dash(c.database_url.as_deref())),
            ("user", or_dash(c.user.as_deref())),
            ("account", or_dash(c.account.as_deref())),
            ("oidc issuer", or_dash(c.oidc_issuer.as_deref())),
            ("oidc client", or_dash(c.oidc_client_id.as_deref())),
            ("iac binary", or_dash(c.iac_bin.as_deref())),
        ]
    }
}

/// A permission and the account role that must back it, for `plat group permissions`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PermissionEntry {
    pub permission: String,
    pub requires_role: Option<String>,
}

impl Row for PermissionEntry {
    const HEADERS: &'static [&'static str] = &["PERMISSION", "REQUIRES ROLE"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.permission.clone(),
            or_dash(self.requires_role.as_deref()),
        ]
    }
}

/// `plat auth status`: which login a command would use. Never carries a token.
#[derive(Debug, serde::Serialize)]
pub struct LoginStatus {
    pub context: String,
    pub server: Option<String>,
    pub logged_in: bool,
    /// `keyring`, `file`, `PLAT_TOKEN`, `github-actions` or `embedded`.
    pub source: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub expires_at: Option<crate::api::Timestamp>,
}

impl LoginStatus {
    pub fn embedded(context: &ContextConfig, operator: &str) -> Self {
        Self {
            context: context.name.clone(),
            server: None,
            logged_in: true,
            source: "embedded".into(),
            issuer: None,
            subject: None,
            email: Some(context.user.clone().unwrap_or_else(|| operator.to_owned())),
            expires_at: None,
        }
    }

    pub fn from_token_env(context: &ContextConfig, token: &str) -> Self {
        let claims = crate::auth::decode_claims(&crate::auth::Secret::new(token.trim())).ok();
        Self {
            context: context.name.clone(),
            server: context.server.clone(),
            logged_in: true,
            source: "PLAT_TOKEN".into(),
            issuer: claims.as_ref().and_then(|c| c.issuer.clone()),
            subject: claims.as_ref().and_then(|c| c.subject.clone()),
            email: claims.as_ref().and_then(|c| c.email.clone()),
            expires_at: claims.and_then(|c| c.expires_at).map(Into::into),
        }
    }

    pub fn from_session(context: &ContextConfig, status: crate::auth::AuthStatus) -> Self {
        Self {
            context: context.name.clone(),
            server: context.server.clone(),
            logged_in: status.logged_in,
            source: status.storage,
            issuer: Some(status.issuer),
            subject: status.subject,
            email: status.email,
            expires_at: status.expires_at.map(Into::into),
        }
    }
}

impl Details for LoginStatus {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("context", self.context.clone()),
            ("server", or_dash(self.server.as_deref())),
            (
                "logged in",
                if self.logged_in { "yes" } else { "no" }.into(),
            ),
            ("source", self.source.clone()),
            ("issuer", or_dash(self.issuer.as_deref())),
            ("email", or_dash(self.email.as_deref())),
            ("subject", or_dash(self.subject.as_deref())),
            (
                "expires",
                or_dash(self.expires_at.map(|t| t.to_string()).as_deref()),
            ),
        ]
    }
}

impl Row for crate::api::Env {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "STATUS",
        "TEMPLATE",
        "OWNER",
        "EXPIRES",
        "RESOURCES",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.status.to_string(),
            self.template.clone(),
            self.owner.clone(),
            self.destroyed_at
                .map_or_else(|| self.expires_at.to_string(), |_| "-".into()),
            self.resources.len().to_string(),
        ]
    }
}

impl Details for crate::api::Env {
    fn details(&self) -> Vec<(&'static str, String)> {
        let outputs = self
            .outputs
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| format!("{k} = {}", plain_value(v)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into());
        let mut rows = vec![
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("account", self.account.clone()),
            ("status", self.status.to_string()),
            ("template", self.template.clone()),
            ("owner", self.owner.clone()),
            ("created", self.created_at.to_string()),
            ("expires", self.expires_at.to_string()),
        ];
        if let Some(destroyed) = &self.destroyed_at {
            rows.push(("destroyed", destroyed.to_string()));
        }
        rows.push((
            "resources",
            if self.resources.is_empty() {
                "-".into()
            } else {
                self.resources.join("\n")
            },
        ));
        rows.push(("outputs", outputs));
        if let Some(approval) = &self.approval {
            rows.push(("approval", approval_line(approval)));
            if let Some(comment) = &approval.comment {
                rows.push(("comment", comment.clone()));
            }
        }
        if let Some(cost) = &self.cost {
            rows.push(("cost", cost.to_string()));
        }
        if let Some(error) = &self.error {
            rows.push(("error", error.clone()));
        }
        rows
    }
}

/// `pending (required by template, decide before T)`, `approved by E at T`, `expired at T`.
fn approval_line(approval: &crate::api::EnvApproval) -> String {
    let why = format!("required by {}", approval.required_by);
    match (&approval.decision, &approval.decided_at) {
        (None, _) => format!("pending ({why}, decide before {})", approval.expires_at),
        (Some(decision), at) => {
            let by = approval
                .decided_by
                .as_deref()
                .map(|who| format!(" by {who}"))
                .unwrap_or_default();
            let at = at.as_ref().map(|t| format!(" at {t}")).unwrap_or_default();
            format!("{decision}{by}{at} ({why})")
        }
    }
}

impl Details for crate::api::EnvPolicy {
    fn details(&self) -> Vec<(&'static str, String)> {
        use crate::service::envs::human;
        let budget = self.budget_monthly.map_or_else(
            || "-".to_owned(),
            |amount| format!("{amount:.2} {}", self.currency),
        );
        vec![
            ("monthly budget", budget),
            ("scope", self.scope.clone()),
            ("default lifetime", human(self.ttl_default_seconds)),
            ("maximum lifetime", human(self.ttl_max_seconds)),
            (
                "environments per user per day",
                self.envs_per_day.to_string(),
            ),
            (
                "approval required for",
                if self.require_approval.is_empty() {
                    "-".into()
                } else {
                    self.require_approval.join(", ")
                },
            ),
        ]
    }
}

impl Details for crate::api::EnvQuota {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("used today", format!("{}/{}", self.used, self.limit)),
            ("resets", self.resets_at.to_string()),
        ]
    }
}

/// An environment template as listed and shown.
#[derive(Debug, serde::Serialize)]
pub struct TemplateView {
    pub name: String,
    pub description: String,
    pub path: String,
    pub ttl_default: String,
    pub ttl_max: String,
    pub parameters: Vec<crate::iac::ParamSpec>,
    /// `required` when its envs wait for an approver (R-GOV-2), else `none`.
    pub approval: crate::iac::template::Approval,
}

impl Row for TemplateView {
    const HEADERS: &'static [&'static str] = &["NAME", "DEFAULT TTL", "MAX TTL", "DESCRIPTION"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.ttl_default.clone(),
            self.ttl_max.clone(),
            self.description.clone(),
        ]
    }
}

impl Details for TemplateView {
    fn details(&self) -> Vec<(&'static str, String)> {
        let params = self
            .parameters
            .iter()
            .map(|p| {
                let default = p
                    .default
                    .as_ref()
                    .map(|d| format!(" = {d}"))
                    .unwrap_or_default();
                format!(
                    "{} ({}){default}  {}",
                    p.name,
                    p.kind,
                    p.description.clone().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        vec![
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("path", self.path.clone()),
            ("default lifetime", self.ttl_default.clone()),
            ("maximum lifetime", self.ttl_max.clone()),
            (
                "approval",
                match self.approval {
                    crate::iac::template::Approval::Required => "required".into(),
                    crate::iac::template::Approval::None => "none".into(),
                },
            ),
            (
                "parameters",
                if params.is_empty() {
                    "-".into()
                } else {
                    params
                },
            ),
        ]
    }
}

/// A scaffold template as `plat scaffold list` shows it.
#[derive(Debug, serde::Serialize)]
pub struct ScaffoldTemplateEntry {
    /// What `plat scaffold run NAME` takes: the template's directory name.
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Directory holding its template.yaml.
    pub path: String,
}

impl ScaffoldTemplateEntry {
    pub fn of(name: &str, template: &crate::scaffold::LoadedTemplate) -> Self {
        let metadata = &template.template.metadata;
        Self {
            name: name.to_owned(),
            title: metadata.title.clone(),
            description: metadata.description.as_deref().map(|d| d.trim().to_owned()),
            tags: metadata.tags.clone(),
            path: template.dir.display().to_string(),
        }
    }
}

impl Row for ScaffoldTemplateEntry {
    const HEADERS: &'static [&'static str] = &["NAME", "TITLE", "TAGS", "DESCRIPTION"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            or_dash(self.title.as_deref()),
            joined(&self.tags),
            or_dash(self.description.as_deref()),
        ]
    }
}

/// One template parameter, flattened from the template's JSON-Schema pages.
#[derive(Debug, serde::Serialize)]
pub struct ScaffoldParameter {
    pub name: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub required: bool,
    pub default: Option<serde_json::Value>,
    #[serde(rename = "enum")]
    pub choices: Option<Vec<serde_json::Value>>,
    pub description: Option<String>,
    /// Title of the page (form step) the parameter is on.
    pub page: Option<String>,
    /// Only asked when another answer selects it (`dependencies`/`oneOf`).
    pub conditional: bool,
}

/// A scaffold template as `plat scaffold show` shows it.
#[derive(Debug, serde::Serialize)]
pub struct ScaffoldTemplateView {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub tags: Vec<String>,
    pub source: String,
    pub path: String,
    pub parameters: Vec<ScaffoldParameter>,
    /// `id: action` of each step, in order.
    pub steps: Vec<String>,
    /// Shell commands the template runs with `--trust`.
    pub hooks: Vec<String>,
}

impl ScaffoldTemplateView {
    pub fn of(loaded: &crate::scaffold::LoadedTemplate) -> Self {
        let template = &loaded.template;
        let mut parameters = Vec::new();
        for page in &template.spec.parameters {
            let page_title = page
                .get("title")
                .and_then(|t| t.as_str())
                .map(str::to_owned);
            collect_parameters(page, page_title.as_deref(), false, &mut parameters);
        }
        Self {
            name: template.metadata.name.clone(),
            title: template.metadata.title.clone(),
            description: template
                .metadata
                .description
                .as_deref()
                .map(|d| d.trim().to_owned()),
            owner: template.spec.owner.clone(),
            kind: template.spec.kind.clone(),
            tags: template.metadata.tags.clone(),
            source: loaded.origin.source.clone(),
            path: loaded.dir.display().to_string(),
            parameters,
            steps: template
                .spec
                .steps
                .iter()
                .enumerate()
                .map(|(index, step)| format!("{}: {}", step.key(index), step.action))
                .collect(),
            hooks: template.spec.hooks.iter().map(|h| h.run.clone()).collect(),
        }
    }
}

/// The properties of one schema, then those of its `dependencies`/`oneOf` branches (which only
/// apply depending on other answers, so they are marked conditional).
fn collect_parameters(
    schema: &serde_json::Value,
    page: Option<&str>,
    conditional: bool,
    out: &mut Vec<ScaffoldParameter>,
) {
    use serde_json::Value;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            // A branch may only narrow a field shown on the page (an enum to pick a branch).
            if out.iter().any(|p| &p.name == name) {
                continue;
            }
            let text = |key: &str| property.get(key).and_then(Value::as_str).map(str::to_owned);
            out.push(ScaffoldParameter {
                name: name.clone(),
                title: text("title").unwrap_or_else(|| name.clone()),
                kind: match property.get("type") {
                    Some(Value::String(kind)) => Some(kind.clone()),
                    Some(Value::Array(kinds)) => Some(
                        kinds
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("|"),
                    ),
                    _ => None,
                },
                required: required.contains(&name.as_str()),
                default: property.get("default").cloned(),
                choices: property.get("enum").and_then(Value::as_array).cloned(),
                description: text("description"),
                page: page.map(str::to_owned),
                conditional,
            });
        }
    }
    let branches = schema
        .get("dependencies")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|deps| deps.values())
        .flat_map(
            |dependency| match dependency.get("oneOf").and_then(Value::as_array) {
                Some(branches) => branches.iter().collect::<Vec<_>>(),
                None => vec![dependency],
            },
        );
    for branch in branches {
        collect_parameters(branch, page, true, out);
    }
}

/// A JSON value as a person reads it: strings without their quotes.
pub fn plain_value(value: &serde_json::Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

impl Details for ScaffoldTemplateView {
    fn details(&self) -> Vec<(&'static str, String)> {
        let parameters = self
            .parameters
            .iter()
            .map(|p| {
                let mut traits = vec![p.kind.clone().unwrap_or_else(|| "any".into())];
                if p.required {
                    traits.push("required".into());
                }
                if p.conditional {
                    traits.push("conditional".into());
                }
                let default = p
                    .default
                    .as_ref()
                    .map(|d| format!(" = {d}"))
                    .unwrap_or_default();
                let choices = p
                    .choices
                    .as_ref()
                    .map(|c| {
                        let names: Vec<String> = c.iter().map(plain_value).collect();
                        format!(" one of: {}", names.join(", "))
                    })
                    .unwrap_or_default();
                let description = p
                    .description
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                format!(
                    "{} ({}){default}{choices}  {}{description}",
                    p.name,
                    traits.join(", "),
                    p.title
                )
            })
            .collect::<Vec<_>>();
        let lines = |items: &[String]| {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join("\n")
            }
        };
        vec![
            ("name", self.name.clone()),
            ("title", or_dash(self.title.as_deref())),
            ("description", or_dash(self.description.as_deref())),
            ("owner", or_dash(self.owner.as_deref())),
            ("type", or_dash(self.kind.as_deref())),
            ("tags", joined(&self.tags)),
            ("source", self.source.clone()),
            ("parameters", lines(&parameters)),
            ("steps", lines(&self.steps)),
            ("hooks", lines(&self.hooks)),
        ]
    }
}

impl Details for crate::scaffold::RunResult {
    fn details(&self) -> Vec<(&'static str, String)> {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let status = serde_json::to_value(&s.status)
                    .map(|v| plain_value(&v))
                    .unwrap_or_default();
                format!("{} ({}): {status}", s.id, s.action)
            })
            .collect();
        let entry = |item: &serde_json::Value, key: &str| {
            let title = item.get("title").map(plain_value).unwrap_or_default();
            let body = item
                .get(key)
                .or_else(|| item.get("entityRef"))
                .map(plain_value)
                .unwrap_or_default();
            format!("{title}: {}", body.trim())
        };
        let links: Vec<String> = self
            .output
            .links()
            .iter()
            .map(|l| entry(l, "url"))
            .collect();
        let text: Vec<String> = self
            .output
            .text()
            .iter()
            .map(|t| entry(t, "content"))
            .collect();
        let lines = |items: &[String]| {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join("\n")
            }
        };
        vec![
            ("target", self.target.display().to_string()),
            ("template", self.answers.template.clone()),
            ("files", self.files.len().to_string()),
            ("steps", lines(&steps)),
            ("links", lines(&links)),
            ("text", lines(&text)),
        ]
    }
}

impl Details for crate::scaffold::UpdateResult {
    fn details(&self) -> Vec<(&'static str, String)> {
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let kind = serde_json::to_value(c.change)
                    .map(|v| plain_value(&v))
                    .unwrap_or_default();
                format!("{kind} {}", c.path)
            })
            .collect();
        vec![
            ("target", self.target.display().to_string()),
            ("template", self.answers.origin.source.clone()),
            ("from commit", or_dash(self.from_commit.as_deref())),
            ("to commit", or_dash(self.to_commit.as_deref())),
            (
                "changes",
                if changes.is_empty() {
                    "none".to_owned()
                } else {
                    changes.join("\n")
                },
            ),
            ("conflicts", joined(&self.conflicts)),
        ]
    }
}

impl Row for crate::scan::RuleInfo {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "SEVERITY", "TARGET", "DESCRIPTION"];
    fn cells(&self) -> Vec<String> {
        let target = serde_json::to_value(self.target)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        vec![
            self.id.to_string(),
            self.name.to_string(),
            self.default_severity.as_str().to_owned(),
            target,
            self.description.to_string(),
        ]
    }
}

impl super::Output {
    /// A titled table on stdout (`plat scan` groups its findings by file this way).
    pub fn titled_table(&self, title: &str, headers: &[String], rows: &[Vec<String>]) {
        let mut table = self.table();
        table.set_header(headers.iter().cloned());
        for row in rows {
            table.add_row(row.clone());
        }
        self.stdout_line(&format!(
            "{title}\n{}\n",
            super::trim_lines(&table.to_string())
        ));
    }

    /// Progress of a live cluster scan: a bar over the resource types on a terminal, debug
    /// lines with `-v` otherwise.
    #[cfg(feature = "kube")]
    pub fn kube_scan_progress(&self) -> Box<dyn FnMut(crate::scan::kube::KubeProgress) + Send> {
        use crate::scan::kube::KubeProgress;
        let out = self.clone();
        let bar = self.progress.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} scanning [{bar:30}] {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Box::new(move |event| match (&bar, event) {
            (Some(bar), KubeProgress::Discovered { resource_types }) => {
                bar.set_length(resource_types as u64);
                if resource_types == 0 {
                    bar.finish_and_clear();
                }
            }
            (Some(bar), KubeProgress::Listing { kind, index, .. }) => {
                bar.set_position(index as u64);
                bar.set_message(kind);
            }
            (Some(bar), KubeProgress::Listed { .. } | KubeProgress::Skipped { .. }) => {
                bar.inc(1);
                if bar.length() == Some(bar.position()) {
                    bar.finish_and_clear();
                }
            }
            (None, KubeProgress::Discovered { resource_types }) => {
                out.debug(&format!("{resource_types} resource types to list"));
            }
            (
                None,
                KubeProgress::Listed {
                    api_version,
                    kind,
                    count,
                },
            ) => out.debug(&format!("listed {count} {api_version} {kind}")),
            (
                None,
                KubeProgress::Skipped {
                    api_version,
                    kind,
                    reason,
                },
            ) => out.debug(&format!("skipped {api_version} {kind}: {reason}")),
            (None, KubeProgress::Listing { .. }) => {}
        })
    }
}

/// R-AUT-6: listings show the automation's name, account and owner.
impl Row for crate::api::Automation {
    const HEADERS: &'static [&'static str] =
        &["NAME", "ACCOUNT", "OWNER", "TRIGGER", "DESCRIPTION"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.account.clone(),
            self.owner.clone(),
            self.trigger.clone(),
            if self.description.is_empty() {
                "-".into()
            } else {
                self.description.clone()
            },
        ]
    }
}

impl Details for crate::api::Automation {
    fn details(&self) -> Vec<(&'static str, String)> {
        let spec = &self.definition["spec"];
        let parameters: Vec<String> = spec["parameters"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|p| {
                        let kind = p["type"].as_str().unwrap_or("string");
                        match &p.get("default") {
                            Some(default) => format!(
                                "{}: {kind} = {}",
                                p["name"].as_str().unwrap_or_default(),
                                default
                            ),
                            None => format!(
                                "{}: {kind} (required)",
                                p["name"].as_str().unwrap_or_default()
                            ),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let steps: Vec<String> = spec["steps"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|s| {
                        format!(
                            "{} ({})",
                            s["id"].as_str().unwrap_or_default(),
                            s["action"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let runner = spec["runner"]
            .as_object()
            .and_then(|r| r.keys().next().cloned());
        vec![
            ("name", self.name.clone()),
            (
                "description",
                or_dash(Some(self.description.as_str()).filter(|d| !d.is_empty())),
            ),
            ("id", self.id.clone()),
            ("account", self.account.clone()),
            ("owner", self.owner.clone()),
            ("trigger", self.trigger.clone()),
            ("parameters", joined(&parameters)),
            ("steps", joined(&steps)),
            ("runner", or_dash(runner.as_deref())),
            ("created", self.created_at.to_string()),
            ("updated", self.updated_at.to_string()),
        ]
    }
}

impl Row for crate::api::AutomationRun {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "AUTOMATION",
        "STATUS",
        "TRIGGER",
        "OWNER",
        "STARTED",
        "FINISHED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.automation.clone(),
            self.status.to_string(),
            self.trigger.clone(),
            self.owner.clone(),
            or_dash(self.started_at.map(|t| t.to_string()).as_deref()),
            or_dash(self.finished_at.map(|t| t.to_string()).as_deref()),
        ]
    }
}

impl Details for crate::api::AutomationRun {
    fn details(&self) -> Vec<(&'static str, String)> {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| match &s.error {
                Some(error) => format!("{} {} ({error})", s.id, s.status),
                None => format!("{} {}", s.id, s.status),
            })
            .collect();
        let params = self
            .params
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| format!("{k}={}", plain_value(v)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        vec![
            ("id", self.id.clone()),
            ("automation", self.automation.clone()),
            ("account", self.account.clone()),
            ("owner", self.owner.clone()),
            ("status", self.status.to_string()),
            ("trigger", self.trigger.clone()),
            ("attempt", self.attempt.to_string()),
            ("params", joined(&params)),
            ("steps", joined(&steps)),
            ("error", or_dash(self.error.as_deref())),
            (
                "started",
                or_dash(self.started_at.map(|t| t.to_string()).as_deref()),
            ),
            (
                "finished",
                or_dash(self.finished_at.map(|t| t.to_string()).as_deref()),
            ),
        ]
    }
}

impl Row for crate::api::Inventory {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "ENV",
        "SOURCE",
        "RESOURCES",
        "ERRORS",
        "WARNINGS",
        "PUBLISHED",
        "BY",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            or_dash(self.env.as_deref()),
            self.source.clone(),
            self.resources.to_string(),
            self.errors.to_string(),
            self.warnings.to_string(),
            self.published_at.to_string(),
            self.published_by.clone(),
        ]
    }
}

/// The summary, then one line per finding, read back from the stored scan document.
impl Details for crate::api::Inventory {
    fn details(&self) -> Vec<(&'static str, String)> {
        let findings: Vec<String> = self
            .report
            .as_ref()
            .and_then(|report| report["findings"].as_array())
            .map(|items| {
                items
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {} {}:{} {}",
                            f["severity"].as_str().unwrap_or("?"),
                            f["rule_id"].as_str().unwrap_or("?"),
                            f["location"]["file"].as_str().unwrap_or("?"),
                            f["location"]["line"],
                            f["message"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        vec![
            ("name", self.name.clone()),
            ("account", self.account.clone()),
            ("env", or_dash(self.env.as_deref())),
            ("source", self.source.clone()),
            ("published", self.published_at.to_string()),
            ("by", self.published_by.clone()),
            ("resources", self.resources.to_string()),
            // The counts, then one finding per line, under one label (no unlabelled row).
            (
                "findings",
                std::iter::once(format!(
                    "{} errors, {} warnings",
                    self.errors, self.warnings
                ))
                .chain(findings)
                .collect::<Vec<_>>()
                .join("\n"),
            ),
        ]
    }
}

impl std::fmt::Display for crate::api::EnvCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let currency = &self.currency;
        write!(
            f,
            "{:.2} {currency}/day, {:.2} {currency} for its lifetime, {:.2} {currency} so far",
            self.daily, self.lifetime, self.accrued
        )
    }
}

impl Row for crate::api::SpendLine {
    const HEADERS: &'static [&'static str] = &["KEY", "ENVS", "ENV-DAYS", "COST"];
    fn cells(&self) -> Vec<String> {
        vec![
            if self.key.is_empty() {
                "-".into()
            } else {
                self.key.clone()
            },
            self.envs.to_string(),
            format!("{:.2}", self.env_days),
            format!("{:.2}", self.cost),
        ]
    }
}

fn claims_text(claims: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined(&pairs)
}

impl Row for crate::api::TrustRule {
    const HEADERS: &'static [&'static str] = &["NAME", "ISSUER", "AUDIENCE", "CLAIMS", "GROUP"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.issuer.clone(),
            self.audience.clone(),
            claims_text(&self.claims),
            self.group.clone(),
        ]
    }
}

impl Details for crate::api::TrustRule {
    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("issuer", self.issuer.clone()),
            ("audience", self.audience.clone()),
            ("claims", claims_text(&self.claims)),
            ("group", self.group.clone()),
            ("identity", self.identity.clone()),
            ("created", self.created_at.to_string()),
        ]
    }
}
