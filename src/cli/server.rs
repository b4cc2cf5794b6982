use std::net::SocketAddr;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    #[command(flatten)]
    pub run: ServerRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Create or upgrade the database schema, then exit
    Migrate(ServerMigrateArgs),
    /// Print the OpenAPI document the server serves at /api/v1/openapi.json
    Openapi,
}

#[derive(Debug, Args)]
pub struct ServerRunArgs {
    /// Address to listen on
    #[arg(long, env = "PLAT_SERVER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database: postgres://USER@HOST:PORT/DB or sqlite://PATH (default: SQLite in the data dir)
    #[arg(long, env = "PLAT_SERVER_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// OpenID Connect issuer whose tokens the server accepts
    #[arg(long, env = "PLAT_SERVER_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// OAuth client id the CLI uses for the device flow
    #[arg(long, env = "PLAT_SERVER_OIDC_CLIENT_ID", default_value = "plat-cli")]
    pub oidc_client_id: String,
    /// Audience access tokens must carry (default: the client id)
    #[arg(long, env = "PLAT_SERVER_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// Access-token claim that names the user, e.g. upn, preferred_username, sub: its value (an
    /// e-mail) links a new IdP subject to the platform user with that e-mail, so tokens need no
    /// `email` claim; a claim missing from a token is asked of the IdP's userinfo endpoint
    #[arg(
        long,
        env = "PLAT_SERVER_OIDC_USERNAME_CLAIM",
        value_name = "CLAIM",
        default_value = "email",
        value_parser = claim_name
    )]
    pub oidc_username_claim: String,
    /// Access-token claim listing the user's IdP groups, e.g. groups, or a dotted path such as
    /// Keycloak's realm_access.roles. Account admins map them to platform groups (`plat group
    /// link-idp`); they are re-read from every token, never stored. Unset: groups are ignored
    #[arg(
        long,
        env = "PLAT_SERVER_OIDC_GROUPS_CLAIM",
        value_name = "CLAIM",
        value_parser = claim_name
    )]
    pub oidc_groups_claim: Option<String>,
    /// E-mail of the user who owns the master account
    #[arg(long, env = "PLAT_SERVER_BOOTSTRAP_ADMIN", value_name = "EMAIL")]
    pub bootstrap_admin: Option<String>,
    /// Slug of the master account
    #[arg(long, env = "PLAT_SERVER_MASTER_ACCOUNT", default_value = "platform")]
    pub master_account: String,
    /// Domain of the default tenant
    #[arg(long, env = "PLAT_SERVER_DEFAULT_DOMAIN", default_value = "localhost")]
    pub default_domain: String,
    /// RabbitMQ URL (amqp://user:pass@host:5672/vhost): consume the queues of queue-triggered
    /// automations (one run per message), and hand queued runs to workers through the broker
    #[arg(long, env = "PLAT_SERVER_AMQP_URL", value_name = "URL")]
    pub amqp_url: Option<String>,
    /// RabbitMQ queue queued runs are handed to workers through; give each platform sharing a
    /// broker its own
    #[arg(
        long,
        env = "PLAT_SERVER_AMQP_RUNS_QUEUE",
        value_name = "QUEUE",
        default_value = "plat.runs"
    )]
    pub amqp_runs_queue: String,
    /// Automation workers per replica
    #[arg(long, env = "PLAT_SERVER_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Seconds a worker holds a run between renewals; a run whose worker died is reclaimed after this
    #[arg(long, env = "PLAT_SERVER_RUN_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub run_lease_seconds: u64,
    /// Attempts a run gets when its worker dies before it is marked failed
    #[arg(long, env = "PLAT_SERVER_RUN_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub run_max_attempts: u16,
    /// Milliseconds a request waits for a database connection before failing with 503
    #[arg(long, env = "PLAT_SERVER_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub db_acquire_timeout_ms: u64,
    /// Milliseconds one database statement may run (SQLite: may wait for the write lock)
    #[arg(long, env = "PLAT_SERVER_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub db_statement_timeout_ms: u64,
    /// Keep audit records this long (e.g. 365d, at least 1d), pruning older ones hourly with
    /// a record of each pruning; without it records are kept for ever
    #[arg(long, env = "PLAT_AUDIT_RETENTION", value_name = "PERIOD", value_parser = parse_retention)]
    pub audit_retention: Option<jiff::SignedDuration>,
    /// Currency of template costs, budgets and spend (an ISO 4217 code)
    #[arg(long, env = "PLAT_CURRENCY", default_value = crate::service::spend::DEFAULT_CURRENCY, value_parser = currency)]
    pub currency: String,
}

fn parse_retention(text: &str) -> Result<jiff::SignedDuration, String> {
    let period = crate::service::vocabulary::parse_age(text).map_err(|err| err.message)?;
    if period < crate::service::MIN_RETENTION {
        return Err(format!("'{text}' is shorter than the minimum of 1d"));
    }
    Ok(period)
}

fn currency(text: &str) -> Result<String, String> {
    crate::service::spend::check_currency(text).map_err(|err| err.message)
}

#[derive(Debug, Args)]
pub struct ServerMigrateArgs {
    /// Database: postgres://USER@HOST:PORT/DB or sqlite://PATH
    #[arg(long, env = "PLAT_SERVER_DATABASE_URL", value_name = "URL")]
    pub database_url: String,
}

/// A claim name or dotted path: no blanks, no empty path segment.
fn claim_name(text: &str) -> Result<String, String> {
    if text.is_empty()
        || text.split('.').any(str::is_empty)
        || text.chars().any(char::is_whitespace)
    {
        return Err("a claim name, or a dotted path such as realm_access.roles".to_owned());
    }
    Ok(text.to_owned())
}
