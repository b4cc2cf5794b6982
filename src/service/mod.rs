//! The one place where the platform's rules (DOMAIN.md) and authorization live. Callers hand in
//! an [`Identity`]; the service resolves it to an [`Actor`] and checks every access against the
//! actor's memberships, groups, account roles and request tenant (R-SEC-2). No printing, no HTTP.

mod accounts;
mod actor;
mod audit;
mod authz_version;
pub mod automation_triggers;
mod automations;
mod env_approvals;
pub mod envs;
mod error;
mod groups;
mod inventories;
mod queue_triggers;
pub mod spend;
mod tenants;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod trust;
mod users;
pub mod vocabulary;

use std::sync::Arc;

pub use actor::{Actor, Identity};
#[cfg(feature = "server")]
pub use audit::MIN_RETENTION;
pub use audit::Origin;
pub use automations::LOCAL_RUN_LEASE_SECONDS;
pub use env_approvals::{DEFAULT_APPROVAL_WINDOW_SECONDS, parse_approval_window};
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "server")]
pub use queue_triggers::QueueBinding;

use crate::api::Timestamp;
use crate::store::{self, AccountRow, GroupRow, Store, TenantRow, UserRow};
use authz_version::VersionedCache;

/// Where "now" comes from; tests and benchmarks can pin it.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}

/// The system clock shifted by `offset`, e.g. `+2h`: lets an operator (or a test) run the
/// reaper "as of" a later time without waiting for it (`PLAT_CLOCK_OFFSET`).
pub fn shifted_clock(offset: jiff::SignedDuration) -> Clock {
    Arc::new(move || {
        let now = jiff::Timestamp::now();
        now.checked_add(offset).unwrap_or(now)
    })
}

/// What a fresh platform is created with (R-ACC-1, R-TEN-2, R-ROLE-3).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub master_account: String,
    pub admin_email: String,
    pub default_tenant_domain: String,
}

#[derive(Clone)]
pub struct Service {
    store: Store,
    clock: Clock,
    authz_reads: Arc<authz_version::SharedVersionRead>,
    /// Resolved callers by (identity, account asked for, host).
    actors: Arc<VersionedCache<actor::ActorKey, Arc<Actor>>>,
    /// Account listings by (account listed from, limit), for callers allowed to read them.
    account_listings: Arc<VersionedCache<ListingKey, Arc<Vec<crate::api::Account>>>>,
    /// The env templates this platform provisions from: their lifetime limits are rules
    /// (R-ENV-1) that the service reads itself, never from the caller.
    env_templates: Arc<dyn envs::EnvTemplates>,
    /// Whether writes append to the audit trail (R-GOV-3): always, but for the benchmark that
    /// measures what the trail costs.
    records_audit: bool,
    /// The currency of template costs, budgets and spend (R-GOV-4): one per platform.
    currency: Arc<str>,
    /// The domain of the platform labels envs carry (`crate::labels`), which spend sums by.
    label_domain: Arc<str>,
    /// How long an env request waits for an approver (R-GOV-2).
    approval_window_seconds: i64,
}

/// The account a listing is seen from, and its limit.
type ListingKey = (String, Option<u32>);

/// Callers a server remembers; each entry is one user in one account on one host.
const ACTOR_CACHE_CAPACITY: usize = 10_000;
/// Listings a server remembers, and the largest one it keeps: a bigger listing costs more to
/// hold than to read again.
const LISTING_CACHE_CAPACITY: usize = 256;
const LISTING_CACHE_MAX_ITEMS: usize = 200;

impl Service {
    pub fn new(store: Store, clock: Clock) -> Self {
        Self {
            store,
            clock,
            authz_reads: Arc::default(),
            actors: Arc::new(VersionedCache::new(ACTOR_CACHE_CAPACITY)),
            account_listings: Arc::new(VersionedCache::new(LISTING_CACHE_CAPACITY)),
            env_templates: Arc::new(envs::NoTemplates),
            records_audit: true,
            currency: Arc::from(spend::DEFAULT_CURRENCY),
            label_domain: Arc::from(crate::labels::DEFAULT_DOMAIN),
            approval_window_seconds: env_approvals::DEFAULT_APPROVAL_WINDOW_SECONDS,
        }
    }

    /// A service that keeps no audit trail: only for `examples/bench_audit.rs`, which measures
    /// the cost of the trail against it. Nothing in plat itself builds one.
    #[doc(hidden)]
    pub fn without_audit_for_benchmarks(mut self) -> Self {
        self.records_audit = false;
        self
    }

    /// How long env requests wait for a decision before they expire (R-GOV-2); see
    /// `parse_approval_window`.
    pub fn with_approval_window(mut self, seconds: i64) -> Self {
        self.approval_window_seconds = seconds;
        self
    }

    /// The domain of the platform's labels (checked by `labels::check_domain`).
    pub fn with_label_domain(mut self, domain: &str) -> Self {
        self.label_domain = Arc::from(domain);
        self
    }

    /// The platform's currency (an ISO 4217 code, checked by `spend::check_currency`).
    pub fn with_currency(mut self, currency: &str) -> Self {
        self.currency = Arc::from(currency);
        self
    }

    /// The env templates whose limits `start_env` enforces; without them no env can start.
    pub fn with_env_templates(mut self, templates: Arc<dyn envs::EnvTemplates>) -> Self {
        self.env_templates = templates;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The injected clock's time, in the stored and shown precision (whole seconds).
    fn now(&self) -> Timestamp {
        Timestamp::from_jiff((self.clock)())
    }

    /// Creates the master account, the default tenant and the admin on an empty database.
    /// Idempotent: a platform that already has its master account is left as it is.
    pub async fn bootstrap(&self, spec: &Bootstrap) -> Result<()> {
        let mut conn = self.store.acquire().await?;
        if store::find_master_account(&mut conn).await?.is_some() {
            return Ok(());
        }
        vocabulary::check_slug("account slug", &spec.master_account)?;
        vocabulary::check_email(&spec.admin_email)?;
        let mut tx = self.store.begin(&mut conn).await?;
        store::lock_bootstrap(&mut tx).await?;
        // Another process may have bootstrapped between the check and the lock.
        if store::find_master_account(&mut tx).await?.is_some() {
            return Ok(());
        }
        let now = self.now();
        let admin = UserRow {
            id: store::new_id(),
            email: spec.admin_email.clone(),
            name: None,
            issuer: None,
            subject: None,
            created_at: now,
        };
        store::insert_user(&mut tx, &admin).await?;
        let master_id = store::new_id();
        let tenant = TenantRow {
            id: store::new_id(),
            name: "default".into(),
            domain: spec.default_tenant_domain.clone(),
            owner_account_id: master_id.clone(),
            created_at: now,
            ..TenantRow::default()
        };
        store::insert_tenant(&mut tx, &tenant).await?;
        let master = AccountRow {
            id: master_id.clone(),
            slug: spec.master_account.clone(),
            name: spec.master_account.clone(),
            parent_id: None,
            path: format!("/{master_id}/"),
            tenant_id: tenant.id.clone(),
            owner_user_id: admin.id.clone(),
            roles: {
                let mut roles: Vec<String> = vocabulary::Role::ALL
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                roles.sort();
                roles
            },
            created_at: now,
        };
        store::insert_account(&mut tx, &master).await?;
        self.seed_account(&mut tx, &master, &admin.id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a new account its predefined groups (R-GRP-2) and its owner admin access.
    async fn seed_account(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
        owner_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        store::link_user(conn, &account.id, owner_id, now).await?;
        for (name, permissions) in vocabulary::predefined_groups() {
            let group = GroupRow {
                id: store::new_id(),
                account_id: account.id.clone(),
                name: name.into(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                builtin: true,
                created_at: now,
            };
            store::insert_group(conn, &group).await?;
            if name == "admins" {
                store::add_group_member(conn, &group.id, owner_id).await?;
            }
        }
        Ok(())
    }
}
