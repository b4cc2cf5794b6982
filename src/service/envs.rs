//! Environments (DOMAIN.md section 2): lifetime and quota policy, the env records, and who may
//! touch them. Terraform itself runs outside the service (see `provision/`); the service decides
//! *before* anything is provisioned (R-ENV-3) and records what happened after.

use jiff::ToSpan;

use super::vocabulary::{AuditAction, Permission};
use super::{Actor, Error, Result, Service};
use crate::api::{
    CreateEnv, Env, EnvLogs, EnvOutcome, EnvPolicy, EnvQuota, EnvStarted, EnvStatus, SetEnvPolicy,
    Timestamp,
};
use crate::store::{self, AccountRow, EnvRow, PolicyRow};

/// R-ENV-1 / R-ENV-2 defaults, in force wherever no policy says otherwise.
pub const DEFAULT_TTL_SECONDS: i64 = 30 * 60;
pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 8 * 60 * 60;
pub const DEFAULT_ENVS_PER_DAY: i64 = 1;

/// Environment statuses as stored and shown.
/// A template's lifetime limits (R-ENV-1), as its manifest declares them.
#[derive(Debug, Clone, Copy)]
pub struct TtlLimits {
    pub default_seconds: i64,
    pub max_seconds: i64,
}

/// Where the service finds env templates' limits: the platform's own catalog (the server's,
/// or the embedded platform's), so that a caller cannot send limits of its choosing.
pub trait EnvTemplates: Send + Sync {
    fn ttl_limits(&self, template: &str) -> Result<TtlLimits>;
    /// Whether the template's manifest says `approval: required` (R-GOV-2).
    fn approval_required(&self, template: &str) -> Result<bool>;

    /// What an env of `template` with these resolved parameters costs (R-GOV-4).
    fn cost(
        &self,
        _template: &str,
        _params: &serde_json::Value,
    ) -> Result<super::spend::TemplateCost> {
        Ok(super::spend::TemplateCost::default())
    }
}

/// A platform that knows no env templates (one built without them refuses every `env up`).
pub(crate) struct NoTemplates;

impl EnvTemplates for NoTemplates {
    fn ttl_limits(&self, template: &str) -> Result<TtlLimits> {
        Err(Error::not_found("environment template", template))
    }
    fn approval_required(&self, template: &str) -> Result<bool> {
        Err(Error::not_found("environment template", template))
    }
}

fn find_template<'a>(
    catalog: &'a crate::iac::TemplateCatalog,
    template: &str,
) -> Result<&'a crate::iac::Template> {
    catalog.find(template).map_err(|err| {
        Error::not_found("environment template", template).with_hint(
            err.hint()
                .unwrap_or_else(|| "run `plat env template list`".into()),
        )
    })
}

impl EnvTemplates for crate::iac::TemplateCatalog {
    fn ttl_limits(&self, template: &str) -> Result<TtlLimits> {
        let found = find_template(self, template)?;
        Ok(TtlLimits {
            default_seconds: found.manifest.ttl.default.as_secs(),
            max_seconds: found.manifest.ttl.max.as_secs(),
        })
    }
    fn approval_required(&self, template: &str) -> Result<bool> {
        let found = find_template(self, template)?;
        Ok(found.manifest.approval == crate::iac::template::Approval::Required)
    }

    fn cost(
        &self,
        template: &str,
        params: &serde_json::Value,
    ) -> Result<super::spend::TemplateCost> {
        let found = self
            .find(template)
            .map_err(|_| Error::not_found("environment template", template))?;
        let daily = match &found.manifest.daily_cost {
            Some(cost) => {
                // The cost is of the parameters as this platform's template resolves them
                // (types, limits, defaults), so a client cannot price an env below what it is.
                let given: std::collections::BTreeMap<String, serde_yaml_ng::Value> =
                    serde_json::from_value(params.clone())
                        .map_err(|err| Error::invalid(format!("environment parameters: {err}")))?;
                let resolved = found
                    .resolve_params(Default::default(), Some(&given))
                    .map_err(|err| {
                        let error = Error::invalid(err.to_string());
                        match err.hint() {
                            Some(hint) => error.with_hint(hint),
                            None => error,
                        }
                    })?;
                let resolved = serde_json::to_value(resolved)
                    .map_err(|err| Error::internal(err.to_string()))?;
                Some(cost.evaluate(&resolved).map_err(|message| {
                    Error::invalid(format!("template '{template}': {message}"))
                        .with_hint("the template's plat-template.yaml declares this cost")
                })?)
            }
            None => None,
        };
        Ok(super::spend::TemplateCost {
            daily,
            labels: found.manifest.labels.clone(),
        })
    }
}

fn account_scope(account: &AccountRow) -> String {
    format!("account:{}", account.id)
}

fn tenant_scope(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}")
}

/// Tightens `policy` with `row`; only the platform's root may loosen the defaults.
fn apply(policy: &mut EnvPolicy, row: &PolicyRow, may_loosen: bool) {
    let pick = |current: i64, wanted: Option<i64>| match wanted {
        Some(value) if may_loosen => value,
        Some(value) => current.min(value),
        None => current,
    };
    policy.ttl_max_seconds = pick(policy.ttl_max_seconds, row.ttl_max_secs);
    policy.envs_per_day = pick(policy.envs_per_day, row.envs_per_day);
    policy.ttl_default_seconds =
        pick(policy.ttl_default_seconds, row.ttl_default_secs).min(policy.ttl_max_seconds);
}

impl Service {
    /// The policy in force for `account`: the defaults, then every ancestor's override from the
    /// root down, then its tenant's; each level can only tighten what is above it.
    pub(super) async fn effective_policy(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
    ) -> Result<EnvPolicy> {
        let mut policy = EnvPolicy {
            scope: format!("account:{}", account.slug),
            ttl_default_seconds: DEFAULT_TTL_SECONDS,
            ttl_max_seconds: MAX_TTL_SECONDS,
            envs_per_day: DEFAULT_ENVS_PER_DAY,
            require_approval: Vec::new(),
            budget_monthly: None,
            currency: self.currency.to_string(),
        };
        for (depth, id) in account
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            if let Some(row) = store::find_policy(conn, &format!("account:{id}")).await? {
                apply(&mut policy, &row, depth == 0);
            }
        }
        if let Some(row) = store::find_policy(conn, &tenant_scope(&account.tenant_id)).await? {
            apply(&mut policy, &row, false);
        }
        policy.require_approval = self.protected_templates(conn, account).await?;
        Ok(policy)
    }

    pub async fn env_policy(&self, actor: &Actor) -> Result<EnvPolicy> {
        actor.require(Permission::PoliciesRead)?;
        let mut conn = self.store.acquire().await?;
        let mut policy = self.effective_policy(&mut conn, &actor.account).await?;
        policy.budget_monthly = self.own_budget(&mut conn, &actor.account).await?;
        Ok(policy)
    }

    /// Sets the policy of the current account, or of a tenant it owns. Never looser than what the
    /// parent imposes (R-ENV-2), except at the platform's root, which sets the defaults.
    pub async fn set_env_policy(&self, actor: &Actor, req: SetEnvPolicy) -> Result<EnvPolicy> {
        let target = policy_target(actor, req.tenant.as_deref());
        self.audited(
            actor,
            AuditAction::PolicySet,
            &target,
            async |tx: &mut store::Conn| self.set_env_policy_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn set_env_policy_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: SetEnvPolicy,
    ) -> Result<EnvPolicy> {
        actor.require(Permission::PoliciesWrite)?;
        for (what, value) in [
            ("ttl_default_seconds", req.ttl_default_seconds),
            ("ttl_max_seconds", req.ttl_max_seconds),
        ] {
            if let Some(value) = value {
                super::vocabulary::check_ttl(what, value, MIN_TTL_SECONDS)?;
            }
        }
        if let Some(value) = req.envs_per_day
            && !(0..=super::vocabulary::MAX_ENVS_PER_DAY).contains(&value)
        {
            return Err(Error::invalid(format!(
                "envs_per_day must be between 0 and {}, got {value}",
                super::vocabulary::MAX_ENVS_PER_DAY
            ))
            .with_hint("0 stops new environments; most teams allow 1 to 10 a day"));
        }
        if let Some(amount) = req.budget_monthly {
            super::spend::check_budget(amount)?;
            if req.tenant.is_some() {
                return Err(Error::invalid("a monthly budget is set per account, not per tenant")
                    .with_hint("run `plat policy set --budget-monthly N` without --tenant, in the account"));
            }
        }
        let (scope, parent, is_root) = match &req.tenant {
            Some(name) => {
                let tenant = store::find_tenant_by_name(tx, name)
                    .await?
                    .filter(|t| t.owner_account_id == actor.account.id)
                    .ok_or_else(|| Error::not_found("tenant", name))?;
                let owner_policy = self.effective_policy(tx, &actor.account).await?;
                (tenant_scope(&tenant.id), owner_policy, false)
            }
            None => {
                let parent = match &actor.account.parent_id {
                    Some(parent_id) => {
                        let parent = store::find_account_by_id(tx, parent_id)
                            .await?
                            .ok_or_else(|| Error::internal("account without parent row"))?;
                        Some(self.effective_policy(tx, &parent).await?)
                    }
                    None => None,
                };
                let is_root = parent.is_none();
                let parent = parent.unwrap_or(EnvPolicy {
                    scope: "platform".into(),
                    ttl_default_seconds: i64::MAX,
                    ttl_max_seconds: i64::MAX,
                    envs_per_day: i64::MAX,
                    require_approval: Vec::new(),
                    budget_monthly: None,
                    currency: self.currency.to_string(),
                });
                (account_scope(&actor.account), parent, is_root)
            }
        };
        if !is_root {
            for (what, value, limit) in [
                (
                    "ttl_max_seconds",
                    req.ttl_max_seconds,
                    parent.ttl_max_seconds,
                ),
                (
                    "ttl_default_seconds",
                    req.ttl_default_seconds,
                    parent.ttl_max_seconds,
                ),
                ("envs_per_day", req.envs_per_day, parent.envs_per_day),
            ] {
                if let Some(value) = value
                    && value > limit
                {
                    return Err(Error::quota(format!(
                        "{what} {value} is looser than the parent's limit of {limit}"
                    ))
                    .with_hint(
                        "a policy can only tighten what the parent account or tenant allows",
                    ));
                }
            }
        }
        let mut row = store::find_policy(tx, &scope).await?.unwrap_or(PolicyRow {
            scope: scope.clone(),
            ..PolicyRow::default()
        });
        row.ttl_default_secs = req.ttl_default_seconds.or(row.ttl_default_secs);
        row.ttl_max_secs = req.ttl_max_seconds.or(row.ttl_max_secs);
        row.envs_per_day = req.envs_per_day.or(row.envs_per_day);
        row.updated_at = self.now();
        store::put_policy(tx, &row).await?;
        self.set_protected_templates(tx, &scope, &req.require_approval, &req.no_require_approval)
            .await?;
        if let Some(amount) = req.budget_monthly {
            self.set_budget(tx, &actor.account, amount).await?;
        }
        let scope_protects = store::approval_templates(tx, std::slice::from_ref(&scope)).await?;
        let mut policy = self.effective_policy(tx, &actor.account).await?;
        policy.budget_monthly = self.own_budget(tx, &actor.account).await?;
        Ok(match req.tenant {
            Some(name) => EnvPolicy {
                scope: format!("tenant:{name}"),
                ttl_default_seconds: row.ttl_default_secs.unwrap_or(policy.ttl_default_seconds),
                ttl_max_seconds: row.ttl_max_secs.unwrap_or(policy.ttl_max_seconds),
                envs_per_day: row.envs_per_day.unwrap_or(policy.envs_per_day),
                require_approval: scope_protects,
                budget_monthly: None,
                currency: policy.currency,
            },
            None => policy,
        })
    }

    /// The day (UTC) the env quota counts: its start, and when the next one starts.
    pub(super) fn quota_window(&self) -> (Timestamp, Timestamp) {
        let now = self.now();
        let today = now.as_jiff().to_zoned(jiff::tz::TimeZone::UTC).date();
        let start = today
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| Timestamp::from_jiff(z.timestamp()))
            .unwrap_or(now);
        let reset = start
            .as_jiff()
            .checked_add(24.hours())
            .map(Timestamp::from_jiff)
            .unwrap_or(now);
        (start, reset)
    }

    pub async fn env_quota(&self, actor: &Actor) -> Result<EnvQuota> {
        actor.require(Permission::EnvsRead)?;
        let mut conn = self.store.acquire().await?;
        let policy = self.effective_policy(&mut conn, &actor.account).await?;
        let (since, resets_at) = self.quota_window();
        let used = store::count_quota_envs(&mut conn, &actor.user.id, since).await?;
        Ok(EnvQuota {
            used,
            limit: policy.envs_per_day,
            resets_at,
        })
    }

    pub async fn list_envs(&self, actor: &Actor, include_destroyed: bool) -> Result<Vec<Env>> {
        actor.require(Permission::EnvsRead)?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_envs(&mut conn, &actor.account.id, include_destroyed).await?;
        rows.into_iter().map(env_view).collect()
    }

    pub(super) async fn live_env(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<EnvRow> {
        store::find_live_env(conn, &actor.account.id, name)
            .await?
            .ok_or_else(|| {
                Error::not_found("environment", name)
                    .with_hint("run `plat env list` to see this account's environments")
            })
    }

    pub async fn get_env(&self, actor: &Actor, name: &str) -> Result<Env> {
        actor.require(Permission::EnvsRead)?;
        let mut conn = self.store.acquire().await?;
        let row = self
            .live_env_or_closed_request(&mut conn, actor, name)
            .await?;
        self.env_view_with_cost(&mut conn, row).await
    }

    /// Records an env before Terraform runs, after every check that could refuse it (R-ENV-3):
    /// name, lifetime against the policy, the daily quota, and the idempotency key.
    pub async fn start_env(&self, actor: &Actor, req: CreateEnv) -> Result<EnvStarted> {
        let target = req.name.clone();
        self.audited(
            actor,
            AuditAction::EnvUp,
            &target,
            async |tx: &mut store::Conn| self.start_env_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn start_env_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: CreateEnv,
    ) -> Result<EnvStarted> {
        actor.require(Permission::EnvsWrite)?;
        super::vocabulary::check_slug("environment name", &req.name)?;
        if let Some(key) = &req.idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(Error::invalid(
                "the idempotency key must be 1 to 200 characters",
            ));
        }
        // Everything below, from the idempotency key to the quota count and the insert, is one
        // decision per user: parallel requests (through any replica) take turns here.
        store::lock_user(tx, &actor.user.id).await?;
        // An approved request is provisioned by its requester's next `up` (R-GOV-2).
        if let Some(resumed) = self.resume_approved(tx, actor, &req).await? {
            return Ok(resumed);
        }
        if let Some(key) = &req.idempotency_key
            && let Some(existing) =
                store::find_env_by_idempotency_key(tx, &actor.user.id, key).await?
        {
            if existing.name != req.name || existing.account_id != actor.account.id {
                return Err(Error::conflict(format!(
                    "idempotency key '{key}' was already used for environment '{}'",
                    existing.name
                )));
            }
            if existing.status != EnvStatus::Destroyed {
                return Ok(EnvStarted {
                    env: self.env_view_with_cost(tx, existing).await?,
                    created: false,
                });
            }
            // Its env is gone (expired and reaped, or taken down): a CI job keyed per pull
            // request gets a new env of the same name on its next push instead of a dead one.
            store::release_idempotency_key(tx, &existing.id).await?;
        }
        if store::find_live_env(tx, &actor.account.id, &req.name)
            .await?
            .is_some()
        {
            return Err(
                Error::conflict(format!("environment '{}' already exists", req.name))
                    .with_hint("pick another name, or `plat env down` the existing one first"),
            );
        }
        let template = self.env_templates.ttl_limits(&req.template)?;
        let policy = self.effective_policy(tx, &actor.account).await?;
        let max = policy
            .ttl_max_seconds
            .min(template.max_seconds.max(MIN_TTL_SECONDS));
        let ttl = req
            .ttl_seconds
            .unwrap_or_else(|| policy.ttl_default_seconds.min(template.default_seconds))
            .min(i64::MAX / 2);
        if ttl < MIN_TTL_SECONDS {
            return Err(Error::invalid(format!(
                "the lifetime must be at least {MIN_TTL_SECONDS}s, got {ttl}s"
            )));
        }
        if ttl > max {
            return Err(Error::quota(format!(
                "a lifetime of {} exceeds the maximum of {}",
                human(ttl),
                human(max)
            ))
            .with_hint(format!("ask for --ttl {} or less", human(max))));
        }
        // A request waiting for an approver spends no quota until it is approved (R-GOV-2).
        let approval = self
            .approval_requirement(tx, &actor.account, &req.template)
            .await?;
        let (since, resets_at) = self.quota_window();
        let used = store::count_quota_envs(tx, &actor.user.id, since).await?;
        if approval.is_none() && used >= policy.envs_per_day {
            return Err(Error::quota(format!(
                "environment quota reached: {used}/{} used today, resets {resets_at}",
                policy.envs_per_day
            ))
            .with_hint("destroyed environments still count; ask an admin to raise the policy (`plat policy set`)"));
        }
        // R-GOV-4: its cost for its whole lifetime must fit every budget from the root down.
        let cost = self.plan_env_cost(actor, &req.name, &req.template, &req.params)?;
        if let Some((daily_micros, _)) = &cost {
            let lifetime = super::spend::accrued(*daily_micros, ttl);
            self.check_budgets(tx, &actor.account, lifetime).await?;
        }
        let now = self.now();
        let mut row = EnvRow {
            id: store::new_id(),
            account_id: actor.account.id.clone(),
            name: req.name.clone(),
            template: req.template,
            params: serde_json::to_string(&req.params).unwrap_or_else(|_| "{}".into()),
            owner_user_id: actor.user.id.clone(),
            status: EnvStatus::Provisioning,
            idempotency_key: req.idempotency_key,
            created_at: now,
            expires_at: now
                .checked_add(jiff::SignedDuration::from_secs(ttl))
                .unwrap_or(now),
            outputs: "{}".into(),
            resources: "[]".into(),
            quota_counted: true,
            account_slug: actor.account.slug.clone(),
            owner_email: actor.user.email.clone(),
            ..EnvRow::default()
        };
        if let Some(required_by) = approval {
            self.await_approval(&mut row, required_by, ttl);
        }
        store::insert_env(tx, &row).await?;
        if let Some(approval) = &row.approval {
            // A pending request costs nothing until it is approved (R-GOV-2, R-GOV-4).
            store::insert_env_approval(tx, &row.id, approval).await?;
        } else if let Some((daily_micros, labels)) = &cost {
            self.record_env_spend(tx, &row, *daily_micros, labels)
                .await?;
        }
        let env = self.env_view_with_cost(tx, row).await?;
        Ok(EnvStarted { env, created: true })
    }

    /// Records how `up` ended. A failed `up` gives the quota back and keeps the env (and its
    /// state) so that `plat env down` can destroy whatever was made.
    pub async fn finish_env_up(
        &self,
        actor: &Actor,
        name: &str,
        outcome: EnvOutcome,
    ) -> Result<Env> {
        self.audited(
            actor,
            AuditAction::EnvUpReport,
            name,
            async |tx: &mut store::Conn| self.finish_env_up_in_tx(tx, actor, name, outcome).await,
        )
        .await
    }

    async fn finish_env_up_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        outcome: EnvOutcome,
    ) -> Result<Env> {
        actor.require(Permission::EnvsWrite)?;
        let mut row = self.live_env(tx, actor, name).await?;
        super::env_approvals::require_approved(&row)?;
        self.keep_log(tx, &row, "up", &outcome).await?;
        record_outcome(&mut row, &outcome);
        if outcome.succeeded {
            row.status = EnvStatus::Ready;
        } else {
            row.status = EnvStatus::Failed;
            row.quota_counted = false;
        }
        store::update_env(tx, &row).await?;
        self.env_view_with_cost(tx, row).await
    }

    async fn keep_log(
        &self,
        conn: &mut store::Conn,
        row: &EnvRow,
        phase: &str,
        outcome: &EnvOutcome,
    ) -> Result<()> {
        match outcome.log.as_deref().filter(|log| !log.is_empty()) {
            Some(log) => Ok(store::append_env_log(conn, &row.id, phase, log, self.now()).await?),
            None => Ok(()),
        }
    }

    /// The Terraform logs recorded for an env (its runs, oldest first), also once destroyed.
    pub async fn env_logs(&self, actor: &Actor, name: &str) -> Result<EnvLogs> {
        actor.require(Permission::EnvsRead)?;
        let mut conn = self.store.acquire().await?;
        let row = match store::find_live_env(&mut conn, &actor.account.id, name).await? {
            Some(row) => row,
            None => store::find_last_env(&mut conn, &actor.account.id, name)
                .await?
                .ok_or_else(|| {
                    Error::not_found("environment", name)
                        .with_hint("run `plat env list --all` to see this account's environments")
                })?,
        };
        Ok(EnvLogs {
            log: store::env_log(&mut conn, &row.id).await?,
            name: row.name,
            status: row.status,
        })
    }

    /// Marks an env as being destroyed; `None` when there is no such live env, so that
    /// `plat env down` of an env already gone succeeds.
    pub async fn start_env_down(&self, actor: &Actor, name: &str) -> Result<Option<Env>> {
        self.audited(
            actor,
            AuditAction::EnvDown,
            name,
            async |tx: &mut store::Conn| self.start_env_down_in_tx(tx, actor, name).await,
        )
        .await
    }

    async fn start_env_down_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<Option<Env>> {
        actor.require(Permission::EnvsWrite)?;
        let Some(mut row) = store::find_live_env(tx, &actor.account.id, name).await? else {
            return Ok(None);
        };
        row.status = EnvStatus::Destroying;
        store::update_env(tx, &row).await?;
        env_view(row).map(Some)
    }

    pub async fn finish_env_down(
        &self,
        actor: &Actor,
        name: &str,
        outcome: EnvOutcome,
    ) -> Result<Env> {
        self.audited(
            actor,
            AuditAction::EnvDownReport,
            name,
            async |tx: &mut store::Conn| self.finish_env_down_in_tx(tx, actor, name, outcome).await,
        )
        .await
    }

    async fn finish_env_down_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        outcome: EnvOutcome,
    ) -> Result<Env> {
        actor.require(Permission::EnvsWrite)?;
        let mut row = self.live_env(tx, actor, name).await?;
        self.keep_log(tx, &row, "down", &outcome).await?;
        if outcome.succeeded {
            row.status = EnvStatus::Destroyed;
            row.destroyed_at = Some(self.now());
            row.resources = "[]".into();
            row.error = None;
            row.reaper_lease_until = None;
            self.end_env_spend(tx, &row.id).await?;
        } else {
            row.status = EnvStatus::Failed;
            row.error = outcome.error.clone();
        }
        store::update_env(tx, &row).await?;
        self.env_view_with_cost(tx, row).await
    }

    /// Moves the expiry to now + `seconds`, never past the policy's maximum from creation and
    /// never earlier than it is.
    pub async fn extend_env(&self, actor: &Actor, name: &str, seconds: i64) -> Result<Env> {
        self.audited(
            actor,
            AuditAction::EnvExtend,
            name,
            async |tx: &mut store::Conn| self.extend_env_in_tx(tx, actor, name, seconds).await,
        )
        .await
    }

    async fn extend_env_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        seconds: i64,
    ) -> Result<Env> {
        actor.require(Permission::EnvsWrite)?;
        super::vocabulary::check_ttl("the extension", seconds, MIN_TTL_SECONDS)?;
        let mut row = self.live_env(tx, actor, name).await?;
        let policy = self.effective_policy(tx, &actor.account).await?;
        let created = row.created_at;
        let limit = created
            .checked_add(jiff::SignedDuration::from_secs(policy.ttl_max_seconds))
            .unwrap_or(created);
        let wanted = self
            .now()
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .map_err(|_| {
                Error::invalid(format!("extending by {seconds}s overflows the clock"))
                    .with_hint("extend by less")
            })?;
        let current = row.expires_at;
        // Extending asks for *more* time: an env that already lives longer keeps its expiry.
        if wanted <= current {
            return self.env_view_with_cost(tx, row).await;
        }
        if wanted > limit {
            return Err(Error::quota(format!(
                "environment '{name}' may live until {limit} at most ({} from creation)",
                human(policy.ttl_max_seconds)
            ))
            .with_hint(format!(
                "extend by less, or recreate it (the limit is {limit})"
            )));
        }
        // R-GOV-4: the time added costs what the env costs a day, within every budget.
        let extra = self.extension_cost(tx, &row.id, current, wanted).await?;
        self.check_budgets(tx, &actor.account, extra).await?;
        row.expires_at = wanted;
        store::update_env(tx, &row).await?;
        self.env_view_with_cost(tx, row).await
    }

    /// Expired live envs of the accounts this actor sees, each leased to the caller for
    /// `lease_seconds` so that concurrent reapers (several servers, cron + server) never destroy
    /// the same env twice. A reaper that dies lets its lease lapse and another one retries.
    pub async fn claim_expired_envs(&self, actor: &Actor, lease_seconds: i64) -> Result<Vec<Env>> {
        actor.require(Permission::EnvsWrite)?;
        let mut conn = self.store.acquire().await?;
        let now = self.now();
        let until = self
            .now()
            .checked_add(jiff::SignedDuration::from_secs(lease_seconds))
            .unwrap_or(now);
        let mut claimed = Vec::new();
        for row in store::expired_envs(&mut conn, &actor.account.path, now).await? {
            if store::claim_reaper_lease(&mut conn, &row.id, now, until).await? {
                claimed.push(self.expire_if_unprovisioned(&mut conn, row).await?);
            }
        }
        Ok(claimed)
    }
}

/// What a policy change applies to, as its audit record names it.
fn policy_target(actor: &Actor, tenant: Option<&str>) -> String {
    match tenant {
        Some(tenant) => format!("tenant:{tenant}"),
        None => format!("account:{}", actor.account.slug),
    }
}

fn record_outcome(row: &mut EnvRow, outcome: &EnvOutcome) {
    if !outcome.outputs.is_null() {
        row.outputs = outcome.outputs.to_string();
    }
    row.resources = serde_json::to_string(&outcome.resources).unwrap_or_else(|_| "[]".into());
    row.error = outcome.error.clone();
}

pub(crate) fn env_view(row: EnvRow) -> Result<Env> {
    let params = store::stored_json("envs", &row.id, "params", &row.params)?;
    let outputs = store::stored_json("envs", &row.id, "outputs", &row.outputs)?;
    let resources = store::stored_json("envs", &row.id, "resources", &row.resources)?;
    Ok(Env {
        id: row.id,
        name: row.name,
        account: row.account_slug,
        template: row.template,
        params,
        owner: row.owner_email,
        status: row.status,
        created_at: row.created_at,
        expires_at: row.expires_at,
        destroyed_at: row.destroyed_at,
        outputs,
        resources,
        error: row.error,
        approval: row.approval.map(super::env_approvals::approval_view),
        cost: None,
    })
}

/// `1800` → `30m`, `5400` → `1h30m`.
pub fn human(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Terraform's `http` state backend for server-mode envs (R-ENV-4): the platform keeps each env's
/// state, so the reaper or any other machine can destroy it. Access is checked like every other
/// env access: the caller must hold `envs:write` in the env's account, else the env does not exist.
impl Service {
    async fn env_for_state(
        &self,
        identity: &super::Identity,
        host: Option<&str>,
        env_id: &str,
    ) -> Result<EnvRow> {
        // Who is asking comes first: on a foreign tenant's host the caller is unknown (R-TEN-5).
        self.resolve_actor(identity, None, host).await?;
        let mut conn = self.store.acquire().await?;
        let missing = || Error::not_found("environment state", env_id);
        let row = store::find_env_by_id(&mut conn, env_id)
            .await?
            .ok_or_else(missing)?;
        drop(conn);
        let actor = self
            .resolve_actor(identity, Some(&row.account_slug), host)
            .await
            .map_err(|err| {
                if err.kind == super::ErrorKind::Unauthenticated {
                    err
                } else {
                    missing()
                }
            })?;
        actor
            .require(Permission::EnvsWrite)
            .map_err(|_| missing())?;
        Ok(row)
    }

    pub async fn get_env_state(
        &self,
        identity: &super::Identity,
        host: Option<&str>,
        env_id: &str,
    ) -> Result<Option<String>> {
        self.env_for_state(identity, host, env_id).await?;
        let mut conn = self.store.acquire().await?;
        Ok(store::find_env_state(&mut conn, env_id)
            .await?
            .and_then(|s| s.state))
    }

    /// Writes the state; refused while someone else holds the lock (`lock_id` is Terraform's `?ID=`).
    pub async fn put_env_state(
        &self,
        identity: &super::Identity,
        host: Option<&str>,
        env_id: &str,
        lock_id: Option<&str>,
        state: Option<String>,
    ) -> Result<()> {
        self.env_for_state(identity, host, env_id).await?;
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        let mut row = store::find_env_state(&mut tx, env_id)
            .await?
            .unwrap_or_else(|| store::EnvStateRow {
                env_id: env_id.to_owned(),
                ..Default::default()
            });
        if let Some(held) = lock_holder(&row)
            && Some(held.as_str()) != lock_id
        {
            return Err(Error::conflict(format!(
                "the state of environment {env_id} is locked by another run"
            )));
        }
        row.state = state;
        row.updated_at = self.now();
        store::put_env_state(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the state lock; on conflict returns the current holder's lock info (Terraform shows it).
    pub async fn lock_env_state(
        &self,
        identity: &super::Identity,
        host: Option<&str>,
        env_id: &str,
        lock_info: String,
    ) -> Result<std::result::Result<(), String>> {
        self.env_for_state(identity, host, env_id).await?;
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        let mut row = store::find_env_state(&mut tx, env_id)
            .await?
            .unwrap_or_else(|| store::EnvStateRow {
                env_id: env_id.to_owned(),
                ..Default::default()
            });
        if let Some(current) = &row.lock_info {
            return Ok(Err(current.clone()));
        }
        row.lock_info = Some(lock_info);
        row.updated_at = self.now();
        store::put_env_state(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    pub async fn unlock_env_state(
        &self,
        identity: &super::Identity,
        host: Option<&str>,
        env_id: &str,
    ) -> Result<()> {
        self.env_for_state(identity, host, env_id).await?;
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        if let Some(mut row) = store::find_env_state(&mut tx, env_id).await? {
            row.lock_info = None;
            row.updated_at = self.now();
            store::put_env_state(&mut tx, &row).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn lock_holder(row: &store::EnvStateRow) -> Option<String> {
    let info: serde_json::Value = serde_json::from_str(row.lock_info.as_deref()?).ok()?;
    info.get("ID").and_then(|id| id.as_str()).map(str::to_owned)
}
