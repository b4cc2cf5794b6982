//! Wire types shared by the client, the embedded platform and the HTTP server.
//! One definition each: `-o json` prints these, the server sends these, the remote client reads these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod timestamp;
pub use timestamp::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Slug of the tenant the account is bound to.
    pub tenant: String,
    /// E-mail of the owner user.
    pub owner: String,
    pub roles: Vec<String>,
    /// Slug of the parent account; `None` when the viewer may not learn it (R-ACC-6).
    pub parent: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateAccount {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    pub owner: String,
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Tenant name; defaults to the creator's own tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateAccount {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub add_roles: Vec<String>,
    #[serde(default)]
    pub remove_roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Branding {
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub layout: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub domain: String,
    /// Slug of the owner account; `None` when the viewer may not learn it (R-ACC-6).
    pub owner_account: Option<String>,
    pub branding: Branding,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateTenant {
    pub name: String,
    pub domain: String,
    /// Account that owns the tenant: the creator (default) or one of its sub-accounts.
    #[serde(default)]
    pub owner_account: Option<String>,
    #[serde(default)]
    pub branding: Branding,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateTenant {
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub primary_color: Option<String>,
    #[serde(default)]
    pub secondary_color: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub layout: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipStatus {
    Active,
    Revoked,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// Where an environment is in its life (R-ENV-*, R-GOV-2), as stored and shown.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EnvStatus {
    /// Recorded, waiting for an approver; nothing provisioned, no quota spent (R-GOV-2).
    PendingApproval,
    /// Approved, not yet provisioned: the requester's next `up` provisions it.
    Approved,
    /// A new env's: Terraform is making it.
    #[default]
    Provisioning,
    Ready,
    Failed,
    Destroying,
    Destroyed,
    /// A request that ended without an env: an approver said no.
    Rejected,
    /// A request nobody decided on in time.
    Expired,
}

/// Where an automation run, or one of its steps, is (R-AUT-5), as stored and shown. `queued`
/// is a run's only; `pending` and `skipped` are a step's only.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

/// `as_str`, `Display` and `FromStr` in the stored spelling, which is serde's.
macro_rules! spelled {
    ($name:ident { $($variant:ident = $text:literal,)+ }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| format!("unknown {} '{text}'", stringify!($name)))
            }
        }
    };
}

spelled!(EnvStatus {
    PendingApproval = "pending_approval",
    Approved = "approved",
    Provisioning = "provisioning",
    Ready = "ready",
    Failed = "failed",
    Destroying = "destroying",
    Destroyed = "destroyed",
    Rejected = "rejected",
    Expired = "expired",
});

spelled!(RunStatus {
    Queued = "queued",
    Pending = "pending",
    Running = "running",
    Succeeded = "succeeded",
    Failed = "failed",
    Skipped = "skipped",
    Cancelled = "cancelled",
});

impl EnvStatus {
    /// Terraform is at work on it: `plat env logs -f` follows it.
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Provisioning | Self::Destroying)
    }
}

impl RunStatus {
    /// The run (or step) ended and will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A platform user as seen through one account's link to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub status: MembershipStatus,
    pub groups: Vec<String>,
    pub linked_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub members: Vec<String>,
    /// Identity-provider groups whose members get this group's permissions, read from each
    /// token's groups claim (R-GOV-1); never written into `members`.
    #[serde(default)]
    pub idp_groups: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateGroup {
    #[serde(default)]
    pub add_permissions: Vec<String>,
    #[serde(default)]
    pub remove_permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct GroupMember {
    pub email: String,
}

/// An identity-provider group, as the server's groups claim names it (e.g. `/acme/release`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct GroupIdpLink {
    pub idp_group: String,
}

/// A trust rule (R-GOV-5): tokens of `issuer` for `audience` whose claims all match act as the
/// service identity `identity` of the account, with exactly the permissions of `group`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TrustRule {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    /// Claim name -> required value: exact, or a prefix when it ends in `*`.
    pub claims: std::collections::BTreeMap<String, String>,
    pub group: String,
    /// The service identity the rule's tokens act as (shown as the user in whoami and audit).
    pub identity: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateTrustRule {
    pub name: String,
    pub issuer: String,
    pub audience: String,
    #[serde(default)]
    pub claims: std::collections::BTreeMap<String, String>,
    pub group: String,
}

/// Work a client does on its own machine that the platform's rules still govern: it stores
/// nothing on the platform, so the client asks before it starts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocalWork {
    /// `plat scan` (needs `scan:run`).
    Scan,
    /// `plat scaffold run|update` (needs `scaffold:run`).
    Scaffold,
}

/// `POST /api/v1/authorize`: may the caller do this work? 204 when allowed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuthorizeWork {
    pub work: LocalWork,
}

/// Who the platform thinks is calling, and where.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct WhoAmI {
    pub user: String,
    pub account: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// The service identity acting for `user` (header `X-Plat-On-Behalf-Of`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_by: Option<String>,
}

/// The error document: printed on stderr with `-o json`, and the body of every HTTP error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RenameUser {
    pub name: String,
}

/// What a client needs to log in to a server: `GET /api/v1/auth/config`, unauthenticated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuthConfig {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub audience: Option<String>,
}

#[cfg(feature = "server")]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// The header naming the account a request acts in (default: the caller's own).
pub const ACCOUNT_HEADER: &str = "x-plat-account";

/// The header naming the user a service identity acts for (R-GOV-5; `PLAT_ON_BEHALF_OF`).
pub const ON_BEHALF_OF_HEADER: &str = "x-plat-on-behalf-of";

/// A short-lived environment (DOMAIN.md section 2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Env {
    pub id: String,
    pub name: String,
    pub account: String,
    pub template: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// E-mail of the user who asked for it.
    pub owner: String,
    pub status: EnvStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub destroyed_at: Option<Timestamp>,
    /// Terraform outputs; sensitive values are replaced by `"(sensitive)"`.
    #[schema(value_type = Object)]
    pub outputs: serde_json::Value,
    /// Terraform addresses of what was provisioned.
    pub resources: Vec<String>,
    pub error: Option<String>,
    /// The approval a protected template or policy asks for (R-GOV-2); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<EnvApproval>,
    /// What it costs, when its template declares a `daily_cost` (R-GOV-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<EnvCost>,
}

/// The approval an env of a protected template needs before anything is provisioned (R-GOV-2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EnvApproval {
    /// `template` (its manifest says `approval: required`) or `policy` (the account's or tenant's).
    pub required_by: String,
    pub requested_at: Timestamp,
    /// Until when an approver may decide; an undecided request then ends as `expired`.
    pub expires_at: Timestamp,
    /// `approved`, `rejected` or `expired`; absent while the request is pending.
    pub decision: Option<String>,
    /// E-mail of the approver who decided (absent for `expired`).
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvDecision {
    Approve,
    Reject,
}

/// `plat env approve|reject NAME [--comment TEXT]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DecideEnv {
    pub decision: EnvDecision,
    #[serde(default)]
    pub comment: Option<String>,
}

/// An env's cost in the platform's currency, computed by the platform from the template it
/// resolves (never sent by a client).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EnvCost {
    /// ISO 4217 code set per platform (`PLAT_CURRENCY`, `plat server --currency`).
    pub currency: String,
    /// Cost per day of life.
    pub daily: f64,
    /// Estimate for its whole lifetime, creation to expiry.
    pub lifetime: f64,
    /// Accrued so far: creation to destruction, or to now while it lives.
    pub accrued: f64,
}

/// `plat env up`, as the platform records it before anything is provisioned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CreateEnv {
    pub name: String,
    pub template: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Requested lifetime; absent means the policy's (or template's) default. The template's
    /// own limits are the platform's to look up: a caller never sends them.
    pub ttl_seconds: Option<i64>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EnvStarted {
    pub env: Env,
    /// `false` when an earlier request with the same idempotency key made the env.
    pub created: bool,
}

/// How provisioning or destruction ended, reported by whoever ran Terraform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EnvOutcome {
    pub succeeded: bool,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub outputs: serde_json::Value,
    #[serde(default)]
    pub resources: Vec<String>,
    pub error: Option<String>,
    /// This run's Terraform `-json` log (its last MiB), kept for `plat env logs` anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// The Terraform logs the platform keeps for an env: every recorded run, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EnvLogs {
    pub name: String,
    pub status: EnvStatus,
    pub log: String,
}

impl EnvOutcome {
    /// A run that ended with nothing left to record (a destroy, a reap).
    pub fn done() -> Self {
        Self {
            succeeded: true,
            outputs: serde_json::Value::Null,
            resources: Vec::new(),
            error: None,
            log: None,
        }
    }

    pub fn with_log(self, log: Option<String>) -> Self {
        Self { log, ..self }
    }

    pub fn failed(error: impl std::fmt::Display) -> Self {
        Self {
            succeeded: false,
            error: Some(error.to_string()),
            ..Self::done()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ExtendEnv {
    pub seconds: i64,
}

/// Environment limits in force for an account (R-ENV-1, R-ENV-2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EnvPolicy {
    /// `account:<slug>` or `tenant:<name>`.
    pub scope: String,
    pub ttl_default_seconds: i64,
    pub ttl_max_seconds: i64,
    pub envs_per_day: i64,
    /// Templates whose environments need an approval here (this scope's and every one above).
    #[serde(default)]
    pub require_approval: Vec<String>,
    /// This account's own monthly budget, covering its subtree (R-GOV-4); budgets set above
    /// it apply too but are not shown (R-ACC-6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_monthly: Option<f64>,
    /// The platform's currency, which budgets and costs are in.
    #[serde(default)]
    pub currency: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SetEnvPolicy {
    /// Set the policy of this tenant (owned by the current account) instead of the account's.
    pub tenant: Option<String>,
    pub ttl_default_seconds: Option<i64>,
    pub ttl_max_seconds: Option<i64>,
    pub envs_per_day: Option<i64>,
    /// Templates whose environments need an approval from now on (R-GOV-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_approval: Vec<String>,
    /// Templates this scope stops protecting (a requirement set above it still holds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_require_approval: Vec<String>,
    /// Monthly budget of the current account and its sub-accounts, in the platform's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_monthly: Option<f64>,
}

/// Spend over one month (UTC) of the caller's account and its sub-accounts (R-ACC-5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SpendReport {
    /// `YYYY-MM`.
    pub month: String,
    pub currency: String,
    /// `account`, `tenant`, `template`, `owner` or `label:KEY`.
    pub by: String,
    /// The window accrued: the month's start to its end, or to now for the current month.
    pub since: Timestamp,
    pub until: Timestamp,
    pub total: f64,
    pub lines: Vec<SpendLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SpendLine {
    /// The account slug, tenant, template, owner e-mail or label value (empty: no such label).
    pub key: String,
    pub envs: i64,
    /// Days lived inside the window, summed over the envs.
    pub env_days: f64,
    pub cost: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EnvQuota {
    pub used: i64,
    pub limit: i64,
    pub resets_at: Timestamp,
}

/// An automation (DOMAIN.md section 3) as stored in an account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Automation {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Slug of the account it belongs to.
    pub account: String,
    /// E-mail of the user who applied it first.
    pub owner: String,
    /// One line: `manual`, `schedule <cron> <zone>`, `constant`, `queue <name>` or `webhook`.
    pub trigger: String,
    /// The validated definition (`apiVersion`, `kind`, `metadata`, `spec`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ApplyAutomation {
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AutomationApplied {
    pub automation: Automation,
    /// `false` when an automation of that name was updated.
    pub created: bool,
}

/// One step of a run as recorded (R-AUT-5).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RunStep {
    pub id: String,
    pub action: String,
    pub status: RunStatus,
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A run of an automation (R-AUT-5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AutomationRun {
    pub id: String,
    pub automation: String,
    pub account: String,
    /// E-mail of the user who started it.
    pub owner: String,
    pub status: RunStatus,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub steps: Vec<RunStep>,
    pub error: Option<String>,
    /// `plat automation cancel` asked the executor to stop.
    pub cancel_requested: bool,
    /// What started it: `manual`, `schedule`, `constant` or `webhook`.
    #[serde(default = "manual")]
    pub trigger: String,
    /// Which attempt of a server worker this is: a run whose worker died is queued again under
    /// the same id (`plat server --run-max-attempts`).
    #[serde(default = "first_attempt")]
    pub attempt: i64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Where `plat automation run` executes it, when no server worker does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<LocalRunner>,
}

/// The machine and process of a `plat automation run` executing a run. The process renews the
/// run's lease while it lives; when it stops, the run fails once the lease lapses (its exec
/// steps ran there, so it is never retried elsewhere), and `plat automation cancel` on the
/// same machine stops the step it left running.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LocalRunner {
    pub host: String,
    pub pid: u32,
    /// The process group of the exec step running now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_group: Option<i32>,
}

fn manual() -> String {
    "manual".into()
}

fn first_attempt() -> i64 {
    1
}

#[cfg(feature = "server")]
/// A webhook delivery accepted: the run it queued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WebhookAccepted {
    pub run: AutomationRun,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StartRun {
    /// `--param k=v` values as given; the platform types them and fills in defaults.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Queue the run for the server's workers instead of executing it in the caller.
    #[serde(default)]
    pub queue: bool,
    /// The caller that executes the run itself (not queued): it holds the run under a lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<LocalRunner>,
}

/// A started run with the definition its executor follows (frozen when the run started).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RunStarted {
    pub run: AutomationRun,
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// What the executor of a run reports: the whole state so far (idempotent to resend). From a
/// local runner, a report also renews its lease.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RunReport {
    pub status: RunStatus,
    pub steps: Vec<RunStep>,
    pub logs: String,
    pub error: Option<String>,
    /// The process group of the exec step running now on the runner's machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_group: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RunLogs {
    pub id: String,
    pub status: RunStatus,
    pub logs: String,
}

/// `plat scan --publish`: a scan's inventory, attached to the account (and to an environment
/// when the scan read one) so that the platform and the Backstage catalog can show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PublishInventory {
    /// The scanned environment, when the inventory is that environment's.
    pub env: Option<String>,
    /// What was scanned, in words: `env:NAME`, `cluster:CTX` or a directory name.
    pub source: String,
    /// The scan's JSON document (`plat scan --format json`, schema_version 1).
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    /// Backstage catalog entities of the scan (`--format backstage`), multi-document YAML.
    pub entities: String,
}

/// A published inventory. Listings leave out `report` and `entities`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Inventory {
    pub name: String,
    pub account: String,
    pub env: Option<String>,
    pub source: String,
    /// E-mail of the user who published it last.
    pub published_by: String,
    pub published_at: Timestamp,
    pub resources: i64,
    pub errors: i64,
    pub warnings: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<String>,
}

#[cfg(feature = "server")]
/// The header carrying a request's id: sent back on every server response, honoured when a
/// client (or a proxy in front of the server) sends a sane one, and kept in the audit trail.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// One record of the audit trail (R-GOV-3): who did what, where, and whether it was refused.
/// It never holds parameter values: a secret passed to a write does not reach it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    /// When it happened (RFC 3339, UTC).
    pub at: Timestamp,
    /// The user's e-mail, or the service identity's.
    pub actor: String,
    /// The identity provider that vouched for the actor, when one did.
    #[serde(default)]
    pub actor_issuer: Option<String>,
    /// The service identity that acted for `actor` (R-GOV-5), when the request was delegated.
    #[serde(default)]
    pub delegated_by: Option<String>,
    /// Slug of the account acted in.
    pub account: String,
    /// What was done, as `noun.verb`: `account.create`, `env.down`, `group.update` …
    pub action: String,
    /// What it was done to: a slug, a name, an e-mail or an id.
    pub target: String,
    pub outcome: AuditOutcome,
    /// The error code of a refusal (`permission_denied`, `quota_exceeded`).
    #[serde(default)]
    pub error_code: Option<String>,
    pub request_id: String,
    /// `cli` for the embedded platform, else the server and the client's address.
    pub source: String,
}

#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Ok,
    Refused,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
        }
    }
}

/// Which audit records to read: `GET /api/v1/audit` and `plat audit list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only records this recent: an age (`24h`, `7d`) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only this actor's records (an e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only this action (`env.down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<AuditOutcome>)]
    pub outcome: Option<AuditOutcome>,
    /// At most this many records (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` token of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of the audit trail, newest first; `next` asks for the page after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// An opaque token: pass it as `cursor` to read older records. `None` on the last page.
    #[serde(default)]
    pub next: Option<String>,
}
