use async_trait::async_trait;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Platform, StateBackend};
use crate::api::{
    ACCOUNT_HEADER, Account, AuthConfig, CreateAccount, CreateGroup, CreateTenant, CreateUser,
    ErrorBody, Group, GroupIdpLink, GroupMember, ON_BEHALF_OF_HEADER, RenameUser, Tenant,
    UpdateAccount, UpdateGroup, UpdateTenant, User, WhoAmI,
};
use crate::api::{
    ApplyAutomation, Automation, AutomationApplied, AutomationRun, RunLogs, RunReport, RunStarted,
    StartRun,
};
use crate::api::{AuditPage, AuditQuery, Inventory, PublishInventory};
use crate::api::{
    CreateEnv, Env, EnvOutcome, EnvPolicy, EnvQuota, EnvStarted, ExtendEnv, SetEnvPolicy,
};
use crate::service::{Error, Result};

/// The platform behind a `plat server`: the same trait, spoken as REST + JSON.
pub struct RemotePlatform {
    base: String,
    http: reqwest::Client,
    token: String,
    account: Option<String>,
    on_behalf_of: Option<String>,
}

impl RemotePlatform {
    pub fn new(server: &str, token: String, account: Option<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("plat/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|err| Error::internal(format!("cannot build the HTTP client: {err}")))?;
        Ok(Self {
            base: server.trim_end_matches('/').to_owned(),
            http,
            token,
            account,
            on_behalf_of: None,
        })
    }

    /// Acts for the user `email`: the server applies that user's rules, provided the token's
    /// identity holds the delegation permission in the account (R-GOV-5).
    pub fn on_behalf_of(mut self, email: Option<String>) -> Self {
        self.on_behalf_of = email;
        self
    }

    /// What the server's clients log in with (`GET /api/v1/auth/config`, no token needed).
    pub async fn auth_config(&self) -> Result<AuthConfig> {
        let request = self.http.get(format!("{}/api/v1/auth/config", self.base));
        self.send(request).await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(account) = &self.account {
            request = request.header(ACCOUNT_HEADER, account);
        }
        if let Some(user) = &self.on_behalf_of {
            request = request.header(ON_BEHALF_OF_HEADER, user);
        }
        request
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        let response = request.send().await.map_err(|err| self.unreachable(err))?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|err| {
                Error::internal(format!("unexpected answer from {}: {err}", self.base))
            });
        }
        Err(match response.json::<ErrorBody>().await {
            Ok(body) => Error::from_body(body),
            Err(_) => Error::internal(format!("{} answered {status}", self.base)),
        })
    }

    async fn send_empty(&self, request: RequestBuilder) -> Result<()> {
        let response = request.send().await.map_err(|err| self.unreachable(err))?;
        if response.status() == StatusCode::NO_CONTENT || response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        Err(match response.json::<ErrorBody>().await {
            Ok(body) => Error::from_body(body),
            Err(_) => Error::internal(format!("{} answered {status}", self.base)),
        })
    }

    fn unreachable(&self, err: reqwest::Error) -> Error {
        let reason = if err.is_timeout() {
            "timed out"
        } else {
            "connection failed"
        };
        Error::internal(format!(
            "cannot reach the plat server at {} ({reason})",
            self.base
        ))
        .with_hint("check the URL with `plat context show`, and that the server is running")
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.request(Method::GET, path)).await
    }

    async fn with_body<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.send(self.request(method, path).json(body)).await
    }
}

/// Path segments may hold e-mails and other user input. A blank one would turn `/groups/{name}`
/// into another route (or none), so it is refused here as the service would refuse it.
fn seg(text: &str) -> Result<String> {
    if text.trim().is_empty() {
        return Err(Error::invalid("the name (or e-mail) must not be empty")
            .with_hint("give the name (or e-mail) of an existing one"));
    }
    Ok(escape_segment(text))
}

fn escape_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[async_trait]
impl Platform for RemotePlatform {
    fn in_account(&self, account: &str) -> Box<dyn Platform> {
        Box::new(Self {
            base: self.base.clone(),
            http: self.http.clone(),
            token: self.token.clone(),
            account: Some(account.to_owned()),
            on_behalf_of: self.on_behalf_of.clone(),
        })
    }

    async fn authorize(&self, work: crate::api::LocalWork) -> Result<()> {
        let body = crate::api::AuthorizeWork { work };
        self.send_empty(self.request(Method::POST, "/authorize").json(&body))
            .await
    }

    async fn who_am_i(&self) -> Result<WhoAmI> {
        self.get("/whoami").await
    }

    async fn list_accounts(&self, limit: Option<u32>) -> Result<Vec<Account>> {
        let mut request = self.request(Method::GET, "/accounts");
        if let Some(limit) = limit {
            request = request.query(&[("limit", limit)]);
        }
        self.send(request).await
    }
    async fn get_account(&self, slug: &str) -> Result<Account> {
        self.get(&format!("/accounts/{}", seg(slug)?)).await
    }
    async fn create_account(&self, req: CreateAccount) -> Result<Account> {
        self.with_body(Method::POST, "/accounts", &req).await
    }
    async fn update_account(&self, slug: &str, req: UpdateAccount) -> Result<Account> {
        self.with_body(Method::PATCH, &format!("/accounts/{}", seg(slug)?), &req)
            .await
    }
    async fn delete_account(&self, slug: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &format!("/accounts/{}", seg(slug)?)))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.get("/tenants").await
    }
    async fn get_tenant(&self, name: &str) -> Result<Tenant> {
        self.get(&format!("/tenants/{}", seg(name)?)).await
    }
    async fn create_tenant(&self, req: CreateTenant) -> Result<Tenant> {
        self.with_body(Method::POST, "/tenants", &req).await
    }
    async fn update_tenant(&self, name: &str, req: UpdateTenant) -> Result<Tenant> {
        self.with_body(Method::PATCH, &format!("/tenants/{}", seg(name)?), &req)
            .await
    }
    async fn delete_tenant(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &format!("/tenants/{}", seg(name)?)))
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.get("/users").await
    }
    async fn get_user(&self, email: &str) -> Result<User> {
        self.get(&format!("/users/{}", seg(email)?)).await
    }
    async fn create_user(&self, req: CreateUser) -> Result<User> {
        self.with_body(Method::POST, "/users", &req).await
    }
    async fn revoke_user(&self, email: &str) -> Result<User> {
        self.send(self.request(Method::POST, &format!("/users/{}/revoke", seg(email)?)))
            .await
    }
    async fn rename_user(&self, email: &str, name: &str) -> Result<User> {
        let body = RenameUser {
            name: name.to_owned(),
        };
        self.with_body(Method::PATCH, &format!("/users/{}", seg(email)?), &body)
            .await
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        self.get("/groups").await
    }
    async fn get_group(&self, name: &str) -> Result<Group> {
        self.get(&format!("/groups/{}", seg(name)?)).await
    }
    async fn create_group(&self, req: CreateGroup) -> Result<Group> {
        self.with_body(Method::POST, "/groups", &req).await
    }
    async fn update_group(&self, name: &str, req: UpdateGroup) -> Result<Group> {
        self.with_body(Method::PATCH, &format!("/groups/{}", seg(name)?), &req)
            .await
    }
    async fn delete_group(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &format!("/groups/{}", seg(name)?)))
            .await
    }
    async fn add_group_member(&self, name: &str, email: &str) -> Result<Group> {
        let body = GroupMember {
            email: email.to_owned(),
        };
        self.with_body(
            Method::POST,
            &format!("/groups/{}/members", seg(name)?),
            &body,
        )
        .await
    }
    async fn remove_group_member(&self, name: &str, email: &str) -> Result<Group> {
        let path = format!("/groups/{}/members/{}", seg(name)?, seg(email)?);
        self.send(self.request(Method::DELETE, &path)).await
    }
    async fn link_group_idp(&self, name: &str, idp_group: &str) -> Result<Group> {
        let body = GroupIdpLink {
            idp_group: idp_group.to_owned(),
        };
        let path = format!("/groups/{}/idp-links", seg(name)?);
        self.with_body(Method::POST, &path, &body).await
    }
    async fn unlink_group_idp(&self, name: &str, idp_group: &str) -> Result<Group> {
        let path = format!("/groups/{}/idp-links", seg(name)?);
        let request = self
            .request(Method::DELETE, &path)
            .query(&[("idp_group", idp_group)]);
        self.send(request).await
    }

    async fn list_trust_rules(&self) -> Result<Vec<crate::api::TrustRule>> {
        self.get("/trust-rules").await
    }
    async fn add_trust_rule(
        &self,
        req: crate::api::CreateTrustRule,
    ) -> Result<crate::api::TrustRule> {
        self.with_body(Method::POST, "/trust-rules", &req).await
    }
    async fn delete_trust_rule(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &format!("/trust-rules/{}", seg(name)?)))
            .await
    }

    async fn env_policy(&self) -> Result<EnvPolicy> {
        self.get("/env-policy").await
    }
    async fn set_env_policy(&self, req: SetEnvPolicy) -> Result<EnvPolicy> {
        self.with_body(Method::PUT, "/env-policy", &req).await
    }
    async fn env_quota(&self) -> Result<EnvQuota> {
        self.get("/env-quota").await
    }
    async fn list_envs(&self, include_destroyed: bool) -> Result<Vec<Env>> {
        let request = self
            .request(Method::GET, "/envs")
            .query(&[("all", include_destroyed)]);
        self.send(request).await
    }
    async fn get_env(&self, name: &str) -> Result<Env> {
        self.get(&format!("/envs/{}", seg(name)?)).await
    }
    async fn start_env(&self, req: CreateEnv) -> Result<EnvStarted> {
        self.with_body(Method::POST, "/envs", &req).await
    }
    async fn finish_env_up(&self, name: &str, outcome: EnvOutcome) -> Result<Env> {
        self.with_body(
            Method::POST,
            &format!("/envs/{}/up-finished", seg(name)?),
            &outcome,
        )
        .await
    }
    async fn start_env_down(&self, name: &str) -> Result<Option<Env>> {
        self.send(self.request(Method::POST, &format!("/envs/{}/down", seg(name)?)))
            .await
    }
    async fn finish_env_down(&self, name: &str, outcome: EnvOutcome) -> Result<Env> {
        self.with_body(
            Method::POST,
            &format!("/envs/{}/down-finished", seg(name)?),
            &outcome,
        )
        .await
    }
    async fn extend_env(&self, name: &str, seconds: i64) -> Result<Env> {
        self.with_body(
            Method::POST,
            &format!("/envs/{}/extend", seg(name)?),
            &ExtendEnv { seconds },
        )
        .await
    }
    async fn claim_expired_envs(&self, lease_seconds: i64) -> Result<Vec<Env>> {
        let request = self
            .request(Method::POST, "/env-reaper/claim")
            .query(&[("lease_seconds", lease_seconds)]);
        self.send(request).await
    }
    async fn decide_env(&self, name: &str, req: crate::api::DecideEnv) -> Result<Env> {
        self.with_body(
            Method::POST,
            &format!("/envs/{}/decision", seg(name)?),
            &req,
        )
        .await
    }

    async fn spend(&self, by: &str, month: Option<&str>) -> Result<crate::api::SpendReport> {
        let mut request = self.request(Method::GET, "/spend").query(&[("by", by)]);
        if let Some(month) = month {
            request = request.query(&[("month", month)]);
        }
        self.send(request).await
    }
    async fn apply_automation(&self, req: ApplyAutomation) -> Result<AutomationApplied> {
        self.with_body(Method::PUT, "/automations", &req).await
    }
    async fn list_automations(&self) -> Result<Vec<Automation>> {
        self.get("/automations").await
    }
    async fn get_automation(&self, name: &str) -> Result<Automation> {
        self.get(&format!("/automations/{}", seg(name)?)).await
    }
    async fn delete_automation(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &format!("/automations/{}", seg(name)?)))
            .await
    }
    async fn start_automation_run(&self, name: &str, req: StartRun) -> Result<RunStarted> {
        self.with_body(
            Method::POST,
            &format!("/automations/{}/runs", seg(name)?),
            &req,
        )
        .await
    }
    async fn report_automation_run(&self, id: &str, report: RunReport) -> Result<AutomationRun> {
        self.with_body(
            Method::POST,
            &format!("/automation-runs/{}/report", seg(id)?),
            &report,
        )
        .await
    }
    async fn get_automation_run(&self, id: &str) -> Result<AutomationRun> {
        self.get(&format!("/automation-runs/{}", seg(id)?)).await
    }
    async fn automation_run_logs(&self, id: &str) -> Result<RunLogs> {
        self.get(&format!("/automation-runs/{}/logs", seg(id)?))
            .await
    }
    async fn list_automation_runs(&self, automation: Option<&str>) -> Result<Vec<AutomationRun>> {
        let mut request = self.request(Method::GET, "/automation-runs");
        if let Some(name) = automation {
            request = request.query(&[("automation", name)]);
        }
        self.send(request).await
    }
    async fn cancel_automation_run(&self, id: &str) -> Result<AutomationRun> {
        self.send(self.request(
            Method::POST,
            &format!("/automation-runs/{}/cancel", seg(id)?),
        ))
        .await
    }

    async fn env_logs(&self, name: &str) -> Result<crate::api::EnvLogs> {
        self.get(&format!("/envs/{}/logs", seg(name)?)).await
    }
    async fn publish_inventory(&self, name: &str, req: PublishInventory) -> Result<Inventory> {
        self.with_body(Method::PUT, &format!("/inventories/{}", seg(name)?), &req)
            .await
    }
    async fn list_inventories(&self) -> Result<Vec<Inventory>> {
        self.get("/inventories").await
    }
    async fn get_inventory(&self, name: &str) -> Result<Inventory> {
        self.get(&format!("/inventories/{}", seg(name)?)).await
    }
    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage> {
        self.send(self.request(Method::GET, "/audit").query(query))
            .await
    }
    fn state_backend(&self, env: &Env) -> Option<StateBackend> {
        let address = format!(
            "{}/api/v1/env-states/{}",
            self.base,
            escape_segment(&env.id)
        );
        Some(StateBackend {
            lock_address: format!("{address}/lock"),
            unlock_address: format!("{address}/unlock"),
            address,
            password: self.token.clone(),
        })
    }
}
