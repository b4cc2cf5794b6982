use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List the current account's groups
    #[command(visible_alias = "ls")]
    List,
    /// Show one group with its permissions and members
    Show(GroupNameArgs),
    /// Create a group with permissions
    Create(GroupCreateArgs),
    /// Add or remove permissions of a group
    Update(GroupUpdateArgs),
    /// Delete a group (predefined groups stay)
    #[command(visible_alias = "rm")]
    Delete(GroupNameArgs),
    /// Add a linked user to a group
    AddMember(GroupMemberArgs),
    /// Remove a user from a group
    RemoveMember(GroupMemberArgs),
    /// List every permission a group can hold
    Permissions,
}

#[derive(Debug, Args)]
pub struct GroupNameArgs {
    /// Group name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct GroupCreateArgs {
    /// Group name: lowercase letters, digits and '-'
    pub name: String,
    /// Permission to grant (repeatable), e.g. envs:write
    #[arg(long = "permission", value_name = "PERMISSION")]
    pub permissions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GroupUpdateArgs {
    /// Group name
    pub name: String,
    /// Permission to add (repeatable)
    #[arg(long = "add-permission", value_name = "PERMISSION")]
    pub add_permissions: Vec<String>,
    /// Permission to remove (repeatable)
    #[arg(long = "remove-permission", value_name = "PERMISSION")]
    pub remove_permissions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GroupMemberArgs {
    /// Group name
    pub name: String,
    /// User e-mail
    pub email: String,
}
