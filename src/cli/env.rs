use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    pub command: EnvCommand,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH
    Template(EnvTemplateArgs),
    /// Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires
    Up(EnvUpArgs),
    /// List this account's environments
    #[command(visible_alias = "ls")]
    List(EnvListArgs),
    /// Show an environment: status, expiry, resources, outputs
    Show(EnvNameArgs),
    /// Print the Terraform log of an environment's last run
    Logs(EnvLogsArgs),
    /// Print an environment's outputs (sensitive values redacted)
    Outputs(EnvNameArgs),
    /// Push an environment's expiry to now + DURATION (capped by the policy's maximum lifetime)
    Extend(EnvExtendArgs),
    /// Destroy an environment; an environment already gone is not an error
    Down(EnvNameArgs),
    /// How many environments you may still create today
    Quota,
    /// Destroy every expired environment (for cron or a CI schedule)
    Reap,
    /// Approve an environment of a protected template; its requester's `env up` then provisions it
    Approve(EnvDecisionArgs),
    /// Reject an environment of a protected template; nothing is provisioned
    Reject(EnvDecisionArgs),
}

#[derive(Debug, Args)]
pub struct EnvDecisionArgs {
    /// Environment name
    pub name: String,
    /// Why: shown with the decision in `plat env show`
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnvTemplateArgs {
    #[command(subcommand)]
    pub command: EnvTemplateCommand,
}

#[derive(Debug, Subcommand)]
pub enum EnvTemplateCommand {
    /// List the templates
    #[command(visible_alias = "ls")]
    List,
    /// Show a template's parameters and lifetime limits
    Show(EnvTemplateShowArgs),
}

#[derive(Debug, Args)]
pub struct EnvTemplateShowArgs {
    /// Template name
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventFormat {
    /// One JSON object per Terraform event on stdout, then the environment
    Ndjson,
}

#[derive(Debug, Args)]
pub struct EnvUpArgs {
    /// Environment name (unique in the account while it lives)
    pub name: String,
    /// Template to provision
    #[arg(long, short = 't', default_value = "demo")]
    pub template: String,
    /// Template parameter (repeatable)
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub params: Vec<(String, String)>,
    /// YAML file of template parameters (--param wins)
    #[arg(long, value_name = "FILE")]
    pub param_file: Option<PathBuf>,
    /// Lifetime, e.g. 45m or 2h (default: the policy's, 30m)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Key that makes a retried `up` return the first try's environment instead of a new one
    #[arg(long, env = "PLAT_IDEMPOTENCY_KEY", value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Stream Terraform events as machine-readable lines
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub events: Option<EventFormat>,
    /// Wait until the environment is ready (the default); for a template that needs an
    /// approval, wait for the decision too (exit 6 when rejected or expired)
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Return once the environment is recorded; Terraform goes on in the background
    /// (follow it with `plat env logs NAME -f`)
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct EnvListArgs {
    /// Include destroyed environments
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct EnvNameArgs {
    /// Environment name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct EnvLogsArgs {
    /// Environment name
    pub name: String,
    /// Keep printing as the log grows, until the environment's run ends
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct EnvExtendArgs {
    /// Environment name
    pub name: String,
    /// New lifetime from now, e.g. 30m
    pub duration: String,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the environment policy in force for the current account
    Show,
    /// Tighten the environment policy of the current account, or of a tenant it owns
    Set(PolicySetArgs),
}

#[derive(Debug, Args)]
pub struct PolicySetArgs {
    /// Set the policy of this tenant instead of the current account's
    #[arg(long)]
    pub tenant: Option<String>,
    /// Default lifetime of new environments, e.g. 30m
    #[arg(long, value_name = "DURATION")]
    pub ttl_default: Option<String>,
    /// Maximum lifetime from creation, e.g. 8h
    #[arg(long, value_name = "DURATION")]
    pub ttl_max: Option<String>,
    /// Environments each user may create per day (UTC)
    #[arg(long, value_name = "N")]
    pub envs_per_day: Option<i64>,
    /// Environments of this template need an approver's decision first (repeatable)
    #[arg(long, value_name = "TEMPLATE")]
    pub require_approval: Vec<String>,
    /// Stop requiring approval for this template here (one set above still holds; repeatable)
    #[arg(long, value_name = "TEMPLATE")]
    pub no_require_approval: Vec<String>,
    /// Monthly budget of the account and its sub-accounts, in the platform's currency
    #[arg(long, value_name = "AMOUNT", value_parser = super::budget_amount)]
    pub budget_monthly: Option<f64>,
}
