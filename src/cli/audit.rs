use clap::{Args, Subcommand};

use crate::api::AuditOutcome;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List who did what in this account and its sub-accounts, newest first (needs audit:read)
    #[command(visible_alias = "ls")]
    List(AuditListArgs),
}

#[derive(Debug, Args)]
pub struct AuditListArgs {
    /// Only records this recent: an age such as 24h or 7d
    #[arg(long, value_name = "AGE", value_parser = parse_since)]
    pub since: Option<String>,
    /// Only what this user (or service identity) did
    #[arg(long, value_name = "EMAIL")]
    pub actor: Option<String>,
    /// Only this action, e.g. env.down, account.create, group.update
    #[arg(long, value_name = "ACTION", value_parser = parse_action)]
    pub action: Option<String>,
    /// Only writes that went through, or only refusals
    #[arg(long, value_enum)]
    pub outcome: Option<AuditOutcome>,
    /// Show at most this many records
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

/// Checked here so that a typo is a usage error (exit 2); the platform reads it again.
fn parse_since(text: &str) -> Result<String, String> {
    crate::service::vocabulary::parse_age(text)
        .map(|_| text.trim().to_owned())
        .map_err(|err| err.message)
}

/// One of the actions the trail records, so that a typo is a usage error (exit 2) rather than
/// an empty list.
fn parse_action(text: &str) -> Result<String, String> {
    use crate::service::vocabulary::AuditAction;
    match AuditAction::parse(text.trim()) {
        Some(action) => Ok(action.as_str().to_owned()),
        None => {
            let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            Err(format!("the trail records {}", known.join(", ")))
        }
    }
}
