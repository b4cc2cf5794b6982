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
    /// Give the members of an identity-provider group this group's permissions
    ///
    /// Users linked to this account whose token lists the IdP group in its groups claim
    /// (`plat server --oidc-groups-claim`) get the group's permissions here, and only here.
    /// Membership is read from each token and never stored: a user the IdP removes from the
    /// group loses the permissions with their next token.
    LinkIdp(GroupIdpArgs),
    /// Remove an identity-provider group's link to this group
    ///
    /// Its members lose the group's permissions from their next request.
    UnlinkIdp(GroupIdpArgs),
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

#[derive(Debug, Args)]
pub struct GroupIdpArgs {
    /// Group name
    pub name: String,
    /// The IdP group as the server's groups claim names it, e.g. /acme/release
    #[arg(long, value_name = "IDP_GROUP")]
    pub idp_group: String,
}
