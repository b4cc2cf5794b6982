//! The platform as the commands see it: one trait, implemented in-process (embedded SQLite, or
//! any database URL) and over HTTP against `plat server`. Commands never know which one they hold.

mod local;
mod remote;

use async_trait::async_trait;

pub use local::LocalPlatform;
pub use remote::RemotePlatform;

use crate::api::{
    Account, CreateAccount, CreateGroup, CreateTenant, CreateUser, Group, Tenant, UpdateAccount,
    UpdateGroup, UpdateTenant, User, WhoAmI,
};
use crate::service::Result;

#[async_trait]
pub trait Platform: Send + Sync {
    async fn who_am_i(&self) -> Result<WhoAmI>;

    async fn list_accounts(&self, limit: Option<u32>) -> Result<Vec<Account>>;
    async fn get_account(&self, slug: &str) -> Result<Account>;
    async fn create_account(&self, req: CreateAccount) -> Result<Account>;
    async fn update_account(&self, slug: &str, req: UpdateAccount) -> Result<Account>;
    async fn delete_account(&self, slug: &str) -> Result<()>;

    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    async fn get_tenant(&self, name: &str) -> Result<Tenant>;
    async fn create_tenant(&self, req: CreateTenant) -> Result<Tenant>;
    async fn update_tenant(&self, name: &str, req: UpdateTenant) -> Result<Tenant>;
    async fn delete_tenant(&self, name: &str) -> Result<()>;

    async fn list_users(&self) -> Result<Vec<User>>;
    async fn get_user(&self, email: &str) -> Result<User>;
    async fn create_user(&self, req: CreateUser) -> Result<User>;
    async fn revoke_user(&self, email: &str) -> Result<User>;
    async fn rename_user(&self, email: &str, name: &str) -> Result<User>;

    async fn list_groups(&self) -> Result<Vec<Group>>;
    async fn get_group(&self, name: &str) -> Result<Group>;
    async fn create_group(&self, req: CreateGroup) -> Result<Group>;
    async fn update_group(&self, name: &str, req: UpdateGroup) -> Result<Group>;
    async fn delete_group(&self, name: &str) -> Result<()>;
    async fn add_group_member(&self, name: &str, email: &str) -> Result<Group>;
    async fn remove_group_member(&self, name: &str, email: &str) -> Result<Group>;
}
