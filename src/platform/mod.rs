//! The platform as the commands see it: one trait, implemented in-process (embedded SQLite, or
//! any database URL) and over HTTP against `plat server`. Commands never know which one they hold.

mod local;
mod remote;

use async_trait::async_trait;

pub use local::LocalPlatform;
pub use remote::RemotePlatform;

use crate::api::{
    Account, CreateAccount, CreateEnv, CreateGroup, CreateTenant, CreateUser, Env, EnvOutcome,
    EnvPolicy, EnvQuota, EnvStarted, Group, SetEnvPolicy, Tenant, UpdateAccount, UpdateGroup,
    UpdateTenant, User, WhoAmI,
};
use crate::api::{
    ApplyAutomation, Automation, AutomationApplied, AutomationRun, RunLogs, RunReport, RunStarted,
    StartRun,
};
use crate::api::{AuditPage, AuditQuery, Inventory, PublishInventory};
use crate::service::Result;

#[async_trait]
pub trait Platform: Send + Sync {
    async fn who_am_i(&self) -> Result<WhoAmI>;
    /// Asks the platform whether the caller may do `work` on this machine.
    async fn authorize(&self, work: crate::api::LocalWork) -> Result<()>;

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
    /// R-GOV-1: members of the IdP group `idp_group` get the group's permissions (never its members).
    async fn link_group_idp(&self, name: &str, idp_group: &str) -> Result<Group>;
    async fn unlink_group_idp(&self, name: &str, idp_group: &str) -> Result<Group>;

    /// R-GOV-5: the account's trust rules (external tokens acting as a service identity).
    async fn list_trust_rules(&self) -> Result<Vec<crate::api::TrustRule>>;
    async fn add_trust_rule(
        &self,
        req: crate::api::CreateTrustRule,
    ) -> Result<crate::api::TrustRule>;
    async fn delete_trust_rule(&self, name: &str) -> Result<()>;

    async fn env_policy(&self) -> Result<EnvPolicy>;
    async fn set_env_policy(&self, req: SetEnvPolicy) -> Result<EnvPolicy>;
    async fn env_quota(&self) -> Result<EnvQuota>;
    async fn list_envs(&self, include_destroyed: bool) -> Result<Vec<Env>>;
    async fn get_env(&self, name: &str) -> Result<Env>;
    async fn start_env(&self, req: CreateEnv) -> Result<EnvStarted>;
    async fn finish_env_up(&self, name: &str, outcome: EnvOutcome) -> Result<Env>;
    /// `None` when no such env is live: `plat env down` is idempotent.
    async fn start_env_down(&self, name: &str) -> Result<Option<Env>>;
    async fn finish_env_down(&self, name: &str, outcome: EnvOutcome) -> Result<Env>;
    async fn extend_env(&self, name: &str, seconds: i64) -> Result<Env>;
    async fn env_logs(&self, name: &str) -> Result<crate::api::EnvLogs>;
    async fn claim_expired_envs(&self, lease_seconds: i64) -> Result<Vec<Env>>;
    /// `plat env approve|reject` (R-GOV-2).
    async fn decide_env(&self, name: &str, req: crate::api::DecideEnv) -> Result<Env>;
    /// Spend of the account and its sub-accounts in `month` (`YYYY-MM`, default this month),
    /// summed by `by` (R-ACC-5).
    async fn spend(&self, by: &str, month: Option<&str>) -> Result<crate::api::SpendReport>;

    async fn apply_automation(&self, req: ApplyAutomation) -> Result<AutomationApplied>;
    async fn list_automations(&self) -> Result<Vec<Automation>>;
    async fn get_automation(&self, name: &str) -> Result<Automation>;
    async fn delete_automation(&self, name: &str) -> Result<()>;
    async fn start_automation_run(&self, name: &str, req: StartRun) -> Result<RunStarted>;
    async fn report_automation_run(&self, id: &str, report: RunReport) -> Result<AutomationRun>;
    async fn get_automation_run(&self, id: &str) -> Result<AutomationRun>;
    async fn automation_run_logs(&self, id: &str) -> Result<RunLogs>;
    async fn list_automation_runs(&self, automation: Option<&str>) -> Result<Vec<AutomationRun>>;
    async fn cancel_automation_run(&self, id: &str) -> Result<AutomationRun>;

    async fn publish_inventory(&self, name: &str, req: PublishInventory) -> Result<Inventory>;
    async fn list_inventories(&self) -> Result<Vec<Inventory>>;
    async fn get_inventory(&self, name: &str) -> Result<Inventory>;

    /// The audit trail of the acting account and its sub-accounts (R-GOV-3), a page at a time.
    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage>;

    /// Where Terraform keeps an env's state: `None` for a local file (embedded platform), or the
    /// server's `http` backend so that any machine can destroy the env (R-ENV-4).
    fn state_backend(&self, env: &Env) -> Option<StateBackend>;

    /// The same caller, acting in `account` (a slug it can see), as `--account` would: an
    /// operation over a subtree (the reaper) records each env in the env's own account.
    fn in_account(&self, account: &str) -> Box<dyn Platform>;
}

/// Terraform `http` backend coordinates for an env's state on a `plat server`.
#[derive(Debug, Clone)]
pub struct StateBackend {
    pub address: String,
    pub lock_address: String,
    pub unlock_address: String,
    pub password: String,
}
