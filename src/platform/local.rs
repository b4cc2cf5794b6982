use async_trait::async_trait;

use super::{Platform, StateBackend};
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
use crate::service::{Actor, Identity, Origin, Result, Service};

/// The platform running in this process: every call resolves the caller, then asks the service.
pub struct LocalPlatform {
    service: Service,
    identity: Identity,
    account: Option<String>,
    /// One request id for all the calls of one command, so its audit records read together.
    origin: Origin,
}

impl LocalPlatform {
    pub fn new(service: Service, identity: Identity, account: Option<String>) -> Self {
        Self {
            service,
            identity,
            account,
            origin: Origin::new("cli"),
        }
    }

    #[cfg(feature = "server")]
    /// The same platform, its calls recorded as coming from `source` (`server reaper`).
    pub fn with_source(mut self, source: &str) -> Self {
        self.origin = Origin::new(source);
        self
    }

    async fn actor(&self) -> Result<Actor> {
        self.service
            .resolve_actor(&self.identity, self.account.as_deref(), None)
            .await
            .map(|actor| std::sync::Arc::unwrap_or_clone(actor).with_origin(self.origin.clone()))
    }
}

#[async_trait]
impl Platform for LocalPlatform {
    fn in_account(&self, account: &str) -> Box<dyn Platform> {
        Box::new(Self {
            service: self.service.clone(),
            identity: self.identity.clone(),
            account: Some(account.to_owned()),
            origin: self.origin.clone(),
        })
    }

    async fn authorize(&self, work: crate::api::LocalWork) -> Result<()> {
        self.service
            .authorize_local_work(&self.actor().await?, work)
    }

    async fn who_am_i(&self) -> Result<WhoAmI> {
        Ok(self.actor().await?.who_am_i())
    }

    async fn list_accounts(&self, limit: Option<u32>) -> Result<Vec<Account>> {
        self.service
            .list_accounts(&self.actor().await?, limit)
            .await
    }
    async fn get_account(&self, slug: &str) -> Result<Account> {
        self.service.get_account(&self.actor().await?, slug).await
    }
    async fn create_account(&self, req: CreateAccount) -> Result<Account> {
        self.service.create_account(&self.actor().await?, req).await
    }
    async fn update_account(&self, slug: &str, req: UpdateAccount) -> Result<Account> {
        self.service
            .update_account(&self.actor().await?, slug, req)
            .await
    }
    async fn delete_account(&self, slug: &str) -> Result<()> {
        self.service
            .delete_account(&self.actor().await?, slug)
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.service.list_tenants(&self.actor().await?).await
    }
    async fn get_tenant(&self, name: &str) -> Result<Tenant> {
        self.service.get_tenant(&self.actor().await?, name).await
    }
    async fn create_tenant(&self, req: CreateTenant) -> Result<Tenant> {
        self.service.create_tenant(&self.actor().await?, req).await
    }
    async fn update_tenant(&self, name: &str, req: UpdateTenant) -> Result<Tenant> {
        self.service
            .update_tenant(&self.actor().await?, name, req)
            .await
    }
    async fn delete_tenant(&self, name: &str) -> Result<()> {
        self.service.delete_tenant(&self.actor().await?, name).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.service.list_users(&self.actor().await?).await
    }
    async fn get_user(&self, email: &str) -> Result<User> {
        self.service.get_user(&self.actor().await?, email).await
    }
    async fn create_user(&self, req: CreateUser) -> Result<User> {
        self.service.create_user(&self.actor().await?, req).await
    }
    async fn revoke_user(&self, email: &str) -> Result<User> {
        self.service.revoke_user(&self.actor().await?, email).await
    }
    async fn rename_user(&self, email: &str, name: &str) -> Result<User> {
        self.service
            .rename_user(&self.actor().await?, email, name)
            .await
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        self.service.list_groups(&self.actor().await?).await
    }
    async fn get_group(&self, name: &str) -> Result<Group> {
        self.service.get_group(&self.actor().await?, name).await
    }
    async fn create_group(&self, req: CreateGroup) -> Result<Group> {
        self.service.create_group(&self.actor().await?, req).await
    }
    async fn update_group(&self, name: &str, req: UpdateGroup) -> Result<Group> {
        self.service
            .update_group(&self.actor().await?, name, req)
            .await
    }
    async fn delete_group(&self, name: &str) -> Result<()> {
        self.service.delete_group(&self.actor().await?, name).await
    }
    async fn add_group_member(&self, name: &str, email: &str) -> Result<Group> {
        self.service
            .add_group_member(&self.actor().await?, name, email)
            .await
    }
    async fn remove_group_member(&self, name: &str, email: &str) -> Result<Group> {
        self.service
            .remove_group_member(&self.actor().await?, name, email)
            .await
    }
    async fn link_group_idp(&self, name: &str, idp_group: &str) -> Result<Group> {
        self.service
            .link_group_idp(&self.actor().await?, name, idp_group)
            .await
    }
    async fn unlink_group_idp(&self, name: &str, idp_group: &str) -> Result<Group> {
        self.service
            .unlink_group_idp(&self.actor().await?, name, idp_group)
            .await
    }

    async fn list_trust_rules(&self) -> Result<Vec<crate::api::TrustRule>> {
        self.service.list_trust_rules(&self.actor().await?).await
    }
    async fn add_trust_rule(
        &self,
        req: crate::api::CreateTrustRule,
    ) -> Result<crate::api::TrustRule> {
        self.service.add_trust_rule(&self.actor().await?, req).await
    }
    async fn delete_trust_rule(&self, name: &str) -> Result<()> {
        self.service
            .delete_trust_rule(&self.actor().await?, name)
            .await
    }

    async fn env_policy(&self) -> Result<EnvPolicy> {
        self.service.env_policy(&self.actor().await?).await
    }
    async fn set_env_policy(&self, req: SetEnvPolicy) -> Result<EnvPolicy> {
        self.service.set_env_policy(&self.actor().await?, req).await
    }
    async fn env_quota(&self) -> Result<EnvQuota> {
        self.service.env_quota(&self.actor().await?).await
    }
    async fn list_envs(&self, include_destroyed: bool) -> Result<Vec<Env>> {
        self.service
            .list_envs(&self.actor().await?, include_destroyed)
            .await
    }
    async fn get_env(&self, name: &str) -> Result<Env> {
        self.service.get_env(&self.actor().await?, name).await
    }
    async fn start_env(&self, req: CreateEnv) -> Result<EnvStarted> {
        self.service.start_env(&self.actor().await?, req).await
    }
    async fn finish_env_up(&self, name: &str, outcome: EnvOutcome) -> Result<Env> {
        self.service
            .finish_env_up(&self.actor().await?, name, outcome)
            .await
    }
    async fn start_env_down(&self, name: &str) -> Result<Option<Env>> {
        self.service
            .start_env_down(&self.actor().await?, name)
            .await
    }
    async fn finish_env_down(&self, name: &str, outcome: EnvOutcome) -> Result<Env> {
        self.service
            .finish_env_down(&self.actor().await?, name, outcome)
            .await
    }
    async fn extend_env(&self, name: &str, seconds: i64) -> Result<Env> {
        self.service
            .extend_env(&self.actor().await?, name, seconds)
            .await
    }
    async fn claim_expired_envs(&self, lease_seconds: i64) -> Result<Vec<Env>> {
        self.service
            .claim_expired_envs(&self.actor().await?, lease_seconds)
            .await
    }
    async fn decide_env(&self, name: &str, req: crate::api::DecideEnv) -> Result<Env> {
        self.service
            .decide_env(&self.actor().await?, name, req)
            .await
    }

    async fn spend(&self, by: &str, month: Option<&str>) -> Result<crate::api::SpendReport> {
        self.service
            .spend(&self.actor().await?, Some(by), month)
            .await
    }
    async fn apply_automation(&self, req: ApplyAutomation) -> Result<AutomationApplied> {
        self.service
            .apply_automation(&self.actor().await?, req)
            .await
    }
    async fn list_automations(&self) -> Result<Vec<Automation>> {
        self.service.list_automations(&self.actor().await?).await
    }
    async fn get_automation(&self, name: &str) -> Result<Automation> {
        self.service
            .get_automation(&self.actor().await?, name)
            .await
    }
    async fn delete_automation(&self, name: &str) -> Result<()> {
        self.service
            .delete_automation(&self.actor().await?, name)
            .await
    }
    async fn start_automation_run(&self, name: &str, req: StartRun) -> Result<RunStarted> {
        self.service
            .start_automation_run(&self.actor().await?, name, req)
            .await
    }
    async fn report_automation_run(&self, id: &str, report: RunReport) -> Result<AutomationRun> {
        self.service
            .report_automation_run(&self.actor().await?, id, report)
            .await
    }
    async fn get_automation_run(&self, id: &str) -> Result<AutomationRun> {
        self.service
            .get_automation_run(&self.actor().await?, id)
            .await
    }
    async fn automation_run_logs(&self, id: &str) -> Result<RunLogs> {
        self.service
            .automation_run_logs(&self.actor().await?, id)
            .await
    }
    async fn list_automation_runs(&self, automation: Option<&str>) -> Result<Vec<AutomationRun>> {
        self.service
            .list_automation_runs(&self.actor().await?, automation)
            .await
    }
    async fn cancel_automation_run(&self, id: &str) -> Result<AutomationRun> {
        self.service
            .cancel_automation_run(&self.actor().await?, id)
            .await
    }

    async fn env_logs(&self, name: &str) -> Result<crate::api::EnvLogs> {
        self.service.env_logs(&self.actor().await?, name).await
    }
    async fn publish_inventory(&self, name: &str, req: PublishInventory) -> Result<Inventory> {
        self.service
            .publish_inventory(&self.actor().await?, name, req)
            .await
    }
    async fn list_inventories(&self) -> Result<Vec<Inventory>> {
        self.service.list_inventories(&self.actor().await?).await
    }
    async fn get_inventory(&self, name: &str) -> Result<Inventory> {
        self.service.get_inventory(&self.actor().await?, name).await
    }
    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage> {
        self.service.list_audit(&self.actor().await?, query).await
    }
    fn state_backend(&self, _env: &Env) -> Option<StateBackend> {
        None
    }
}
