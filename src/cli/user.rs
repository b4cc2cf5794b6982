use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List the users linked to the current account
    #[command(visible_alias = "ls")]
    List,
    /// Show one linked user
    Show(UserEmailArgs),
    /// Link a user to the current account, creating the platform user if needed
    Create(UserCreateArgs),
    /// Change your own display name (users own themselves)
    Update(UserUpdateArgs),
    /// Remove a user's access to the current account; the user is kept
    Revoke(UserEmailArgs),
}

#[derive(Debug, Args)]
pub struct UserEmailArgs {
    /// User e-mail
    pub email: String,
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// User e-mail
    pub email: String,
    /// Display name
    #[arg(long)]
    pub name: Option<String>,
    /// Group to add the user to (repeatable)
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UserUpdateArgs {
    /// User e-mail (must be you)
    pub email: String,
    /// New display name
    #[arg(long)]
    pub name: String,
}
