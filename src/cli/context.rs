use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ContextArgs {
    #[command(subcommand)]
    pub command: ContextCommand,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// List contexts; the current one is marked
    #[command(visible_alias = "ls")]
    List,
    /// Show a context (default: the current one)
    Show(ContextShowArgs),
    /// Make a context the current one
    Use(ContextNameArgs),
    /// Add or replace a context
    Add(ContextAddArgs),
    /// Delete a context
    #[command(visible_alias = "rm")]
    Delete(ContextNameArgs),
}

#[derive(Debug, Args)]
pub struct ContextShowArgs {
    /// Context name
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContextNameArgs {
    /// Context name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ContextAddArgs {
    /// Context name
    pub name: String,
    /// URL of a `plat server` (omit for the embedded platform)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Database of an embedded platform (default: SQLite in the data dir)
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Platform user to act as (embedded platform only)
    #[arg(long = "as", value_name = "EMAIL")]
    pub user: Option<String>,
    /// Account to act in by default
    #[arg(long = "default-account", value_name = "SLUG")]
    pub default_account: Option<String>,
    /// Terraform or OpenTofu binary to use
    #[arg(long, value_name = "PATH")]
    pub iac_bin: Option<String>,
    /// Make it the current context
    #[arg(long = "use")]
    pub make_current: bool,
}
