use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct TenantArgs {
    #[command(subcommand)]
    pub command: TenantCommand,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// List the tenants your account owns or is bound to
    #[command(visible_alias = "ls")]
    List,
    /// Show one tenant
    Show(TenantNameArgs),
    /// Create a tenant for your sub-accounts
    Create(TenantCreateArgs),
    /// Change a tenant's domain or branding
    Update(TenantUpdateArgs),
    /// Delete a tenant no account is bound to
    #[command(visible_alias = "rm")]
    Delete(TenantNameArgs),
}

#[derive(Debug, Args)]
pub struct TenantNameArgs {
    /// Tenant name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct BrandingArgs {
    /// Logo URL
    #[arg(long, value_name = "URL")]
    pub logo: Option<String>,
    /// Primary colour, e.g. '#0a7'
    #[arg(long, value_name = "HEX")]
    pub color: Option<String>,
    /// Secondary colour
    #[arg(long, value_name = "HEX")]
    pub secondary_color: Option<String>,
    /// Description shown by the portal
    #[arg(long)]
    pub description: Option<String>,
    /// Layout option (repeatable)
    #[arg(long = "layout", value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub layout: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct TenantCreateArgs {
    /// Tenant name: lowercase letters, digits and '-'
    pub name: String,
    /// Domain that resolves to this tenant
    #[arg(long)]
    pub domain: Option<String>,
    /// Account that owns the tenant: yours (default) or one of your sub-accounts
    #[arg(long, value_name = "SLUG")]
    pub owner_account: Option<String>,
    #[command(flatten)]
    pub branding: BrandingArgs,
}

#[derive(Debug, Args)]
pub struct TenantUpdateArgs {
    /// Tenant name
    pub name: String,
    /// New domain (owner account only)
    #[arg(long)]
    pub domain: Option<String>,
    #[command(flatten)]
    pub branding: BrandingArgs,
}
