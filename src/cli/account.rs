use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(subcommand)]
    pub command: AccountCommand,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// List the current account and every account below it
    #[command(visible_alias = "ls")]
    List(AccountListArgs),
    /// Show one account
    Show(AccountShowArgs),
    /// Create a sub-account of the current account
    Create(AccountCreateArgs),
    /// Change a sub-account's name, tenant, owner or roles (your own account: its name only)
    Update(AccountUpdateArgs),
    /// Delete a sub-account that has no sub-accounts of its own
    #[command(visible_alias = "rm")]
    Delete(AccountDeleteArgs),
}

#[derive(Debug, Args)]
pub struct AccountListArgs {
    /// Show at most this many accounts
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct AccountShowArgs {
    /// Account slug (default: the current account)
    pub slug: Option<String>,
}

#[derive(Debug, Args)]
pub struct AccountCreateArgs {
    /// Slug of the new account: lowercase letters, digits and '-'
    pub slug: String,
    /// E-mail of the owner user (created if it does not exist yet)
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
    /// Display name (default: the slug)
    #[arg(long)]
    pub name: Option<String>,
    /// Tenant to bind the account to (default: the current account's tenant)
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Role to grant the new account (repeatable)
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AccountUpdateArgs {
    /// Account slug
    pub slug: String,
    /// New display name
    #[arg(long)]
    pub name: Option<String>,
    /// Move the account to another tenant (parent accounts only)
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Give the account another owner (parent accounts only)
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
    /// Grant a role (repeatable)
    #[arg(long = "add-role", value_name = "ROLE")]
    pub add_roles: Vec<String>,
    /// Withdraw a role (repeatable)
    #[arg(long = "remove-role", value_name = "ROLE")]
    pub remove_roles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AccountDeleteArgs {
    /// Account slug
    pub slug: String,
}
