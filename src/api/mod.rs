//! Wire types shared by the client, the embedded platform and the HTTP server.
//! One definition each: `-o json` prints these, the server sends these, the remote client reads these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Slug of the tenant the account is bound to.
    pub tenant: String,
    /// E-mail of the owner user.
    pub owner: String,
    pub roles: Vec<String>,
    /// Slug of the parent account; `None` when the viewer may not learn it (R-ACC-6).
    pub parent: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateAccount {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    pub owner: String,
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Tenant name; defaults to the creator's own tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateAccount {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub add_roles: Vec<String>,
    #[serde(default)]
    pub remove_roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Branding {
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub layout: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub domain: String,
    /// Slug of the owner account; `None` when the viewer may not learn it (R-ACC-6).
    pub owner_account: Option<String>,
    pub branding: Branding,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateTenant {
    pub name: String,
    pub domain: String,
    /// Account that owns the tenant: the creator (default) or one of its sub-accounts.
    #[serde(default)]
    pub owner_account: Option<String>,
    #[serde(default)]
    pub branding: Branding,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateTenant {
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub primary_color: Option<String>,
    #[serde(default)]
    pub secondary_color: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub layout: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipStatus {
    Active,
    Revoked,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A platform user as seen through one account's link to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub status: MembershipStatus,
    pub groups: Vec<String>,
    pub linked_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub members: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UpdateGroup {
    #[serde(default)]
    pub add_permissions: Vec<String>,
    #[serde(default)]
    pub remove_permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct GroupMember {
    pub email: String,
}

/// Who the platform thinks is calling, and where.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct WhoAmI {
    pub user: String,
    pub account: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// The error document: printed on stderr with `-o json`, and the body of every HTTP error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RenameUser {
    pub name: String,
}

/// What a client needs to log in to a server: `GET /api/v1/auth/config`, unauthenticated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuthConfig {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// The header naming the account a request acts in (default: the caller's own).
pub const ACCOUNT_HEADER: &str = "x-plat-account";
