//! The command-line grammar: clap types only, one file per noun. No I/O happens here.

mod account;
mod audit;
mod auth;
mod automation;
mod context;
mod env;
mod group;
mod scaffold;
mod scan;
#[cfg(feature = "server")]
mod server;
mod spend;
mod tenant;
mod trust;
mod user;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use account::*;
pub use audit::*;
pub use auth::*;
pub use automation::*;
pub use context::*;
pub use env::*;
pub use group::*;
pub use scaffold::*;
pub use scan::*;
#[cfg(feature = "server")]
pub use server::*;
pub use spend::*;
pub use tenant::*;
pub use trust::*;
pub use user::*;

pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PLAT_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "plat",
    version = VERSION,
    about = "Drive an internal developer platform: accounts, environments, automations, scans and scaffolding",
    long_about = "Drive an internal developer platform: accounts, environments, automations, scans and scaffolding.\n\n\
With no configuration plat runs the platform embedded (SQLite in the data dir, you as its operator); \
`plat login --server URL` points it at a team's `plat server`.",
    after_long_help = crate::error::Exit::help_text(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Output format: a table for people, JSON or YAML documents for programs
    #[arg(short = 'o', long, global = true, env = "PLAT_OUTPUT", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Context (platform connection) to use instead of the current one
    #[arg(long, global = true, env = "PLAT_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
    /// Account to act in (default: your own)
    #[arg(long, global = true, env = "PLAT_ACCOUNT", value_name = "SLUG")]
    pub account: Option<String>,
    /// Platform user to act as on an embedded platform (default: the local operator)
    #[arg(long, global = true, env = "PLAT_USER", value_name = "EMAIL")]
    pub user: Option<String>,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about what is happening (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never prompt; fail listing every missing value instead
    #[arg(long, global = true, env = "PLAT_NO_INPUT")]
    pub no_input: bool,
    /// Answer yes to confirmations
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage accounts: your own and the sub-accounts below it
    Account(AccountArgs),
    /// Manage tenants: domains and branding under which accounts see the platform
    Tenant(TenantArgs),
    /// Link platform users to the current account, or revoke their access
    User(UserArgs),
    /// Manage groups, the only holders of permissions
    Group(GroupArgs),
    /// Trust rules: let external tokens (GitHub Actions jobs) act with a group's permissions
    Trust(TrustArgs),
    /// Manage contexts: which platform plat talks to, and as whom
    Context(ContextArgs),
    /// Show who you are acting as, in which account, with which permissions
    Whoami,
    /// Short-lived environments provisioned by Terraform/OpenTofu
    Env(EnvArgs),
    /// Environment policies: lifetime limits, daily quota, monthly budget and templates that
    /// need approval
    Policy(PolicyArgs),
    /// The audit trail: every write and every refusal, by whom, where and when
    Audit(AuditArgs),
    /// Spend of environments in this account and its sub-accounts, by account, tenant or label
    Spend(SpendArgs),
    /// Automations: define, run and follow the platform's processes
    Automation(AutomationArgs),
    /// Inventory and policy checks over manifests, Terraform state and live clusters
    Scan(ScanArgs),
    /// Create projects from Backstage Software Templates, offline, and keep them updatable
    Scaffold(ScaffoldArgs),
    /// Log in to a plat server with your identity provider (OIDC device flow)
    Login(LoginArgs),
    /// Forget the login of the current context and revoke its refresh token
    Logout(LogoutArgs),
    /// Inspect the current login
    Auth(AuthArgs),
    /// Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)
    #[cfg(feature = "server")]
    Server(ServerArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Command {
    pub fn handles_interrupts(&self) -> bool {
        matches!(
            self,
            Command::Env(EnvArgs {
                command: EnvCommand::Up(_) | EnvCommand::Down(_) | EnvCommand::Reap
            }) | Command::Automation(AutomationArgs {
                command: AutomationCommand::Run(_)
            })
        )
    }
}

/// Parses `key=value` pairs given to repeatable flags.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}

/// Prints the generated files into the repository (used by the test that keeps them fresh).
#[doc(hidden)]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
