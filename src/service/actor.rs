use std::sync::Arc;

use super::vocabulary::{self, AuditAction, Permission, Role};
use super::{Error, ErrorKind, Result, Service};
use crate::api::{MembershipStatus, WhoAmI};
use crate::store::{self, AccountRow, TenantRow, UserRow};

/// Who is calling, before the platform has checked anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The local operator of an embedded platform: the owner of the master account.
    Operator,
    /// A platform user named by e-mail (embedded mode: `--user` / `PLAT_USER`).
    Email(String),
    /// A user authenticated by the identity provider (R-USR-3): keyed by issuer + subject,
    /// linked by e-mail the first time it is seen.
    Oidc {
        issuer: String,
        subject: String,
        /// The value of the server's username claim (`email` unless configured otherwise,
        /// R-GOV-1): the handle that links the subject to a platform user the first time.
        email: Option<String>,
        /// The token's groups claim: IdP groups that an account's links turn into that
        /// account's group permissions (R-GOV-1). Part of the identity, so every token is
        /// resolved with its own groups, also through the actor cache.
        groups: Vec<String>,
    },
    /// A token of an external issuer that an account trusts (R-GOV-5: a GitHub Actions job),
    /// verified by the server and matched against the trust rules when resolved.
    Federated {
        issuer: String,
        /// The token's `aud` values.
        audiences: Vec<String>,
        /// The token's string (and number, as text) claims, `sub` included.
        claims: std::collections::BTreeMap<String, String>,
    },
}

/// A caller the platform has resolved: a user acting in one account, possibly through a tenant.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: UserRow,
    /// The account acted in: the user's own or one of its descendants.
    pub account: AccountRow,
    /// Tenant slug of `account`, for display.
    pub tenant_name: String,
    /// Permissions from the user's groups in the account where the user is a member.
    pub permissions: Vec<String>,
    /// The account of the membership those permissions come from: `account` itself or an ancestor.
    pub(super) membership_account_id: String,
    /// The service identity acting for `user` (R-GOV-5), when the request was delegated.
    pub delegated_by: Option<String>,
    /// The request this actor makes, for the audit trail and the logs. Set per request by the
    /// caller of the service (`with_origin`): a resolved actor is shared between requests.
    pub origin: super::Origin,
    /// The authorization version this caller was resolved under: what is cached for the
    /// caller (a listing) is valid while the platform is still at it.
    pub(super) authz_version: String,
}

impl Actor {
    /// R-ACC-7: an account sees itself and its descendants.
    pub fn sees(&self, account_path: &str) -> bool {
        account_path.starts_with(&self.account.path)
    }

    pub fn is_self(&self, account: &AccountRow) -> bool {
        account.id == self.account.id
    }

    pub fn can(&self, permission: Permission) -> bool {
        grants(&self.permissions, permission)
    }

    pub fn holds_role(&self, role: Role) -> bool {
        self.account.roles.iter().any(|r| r == role.as_str())
    }

    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) {
            return Ok(());
        }
        Err(lacks(&self.user.email, &self.account.slug, permission))
    }

    pub fn require_role(&self, role: Role, to: &str) -> Result<()> {
        if self.holds_role(role) {
            return Ok(());
        }
        Err(Error::denied(format!(
            "account '{}' cannot {to}: it does not hold the role '{role}'",
            self.account.slug
        ))
        .with_hint(
            "roles are granted by the parent account (`plat account update SLUG --add-role ROLE`)",
        ))
    }

    /// The same caller, making the request `origin`.
    pub fn with_origin(mut self, origin: super::Origin) -> Self {
        self.origin = origin;
        self
    }

    pub fn who_am_i(&self) -> WhoAmI {
        WhoAmI {
            user: self.user.email.clone(),
            account: self.account.slug.clone(),
            tenant: self.tenant_name.clone(),
            roles: self.account.roles.clone(),
            permissions: self.permissions.clone(),
            delegated_by: self.delegated_by.clone(),
        }
    }
}

/// Whether group permissions grant `permission`; `*` (the `admins` group) grants every one but
/// acting for other users, which a group must name (R-GOV-5).
fn grants(permissions: &[String], permission: Permission) -> bool {
    permissions.iter().any(|p| {
        p == permission.as_str()
            || (p == vocabulary::ALL_PERMISSIONS && permission != Permission::ActForUsers)
    })
}

fn lacks(user: &str, account: &str, permission: Permission) -> Error {
    Error::denied(format!(
        "{user} lacks the permission '{permission}' in account '{account}'"
    ))
    .with_hint("permissions come from groups: ask an admin of the account to add you to one that grants it")
}

fn no_access(who: &str) -> Error {
    Error::unauthenticated(format!("{who} has no access to this platform"))
        .with_hint("ask an account admin to run `plat user create <e-mail>` in their account")
}

impl Service {
    /// May the caller do this work on its own machine? A scan or a scaffold stores nothing on
    /// the platform, but the account's rules still decide who may run one.
    pub fn authorize_local_work(&self, actor: &Actor, work: crate::api::LocalWork) -> Result<()> {
        actor.require(match work {
            crate::api::LocalWork::Scan => Permission::ScanRun,
            crate::api::LocalWork::Scaffold => Permission::ScaffoldRun,
        })
    }

    /// Resolves a caller to an actor in `account_slug` (default: the user's own account).
    /// `host` is the HTTP `Host` of a server request: on a tenant's domain only users linked to an
    /// account of that tenant exist (R-TEN-5), and everyone else gets the answer an unknown user gets.
    ///
    /// A server resolves the same callers over and over: the result is cached, and used only
    /// while the platform's authorization version (bumped by every write that could change
    /// the answer, on any replica) is the one it was resolved under.
    pub async fn resolve_actor(
        &self,
        identity: &Identity,
        account_slug: Option<&str>,
        host: Option<&str>,
    ) -> Result<Arc<Actor>> {
        let version = self.authz_version().await?;
        let key = (
            identity.clone(),
            account_slug.map(str::to_owned),
            host.map(str::to_ascii_lowercase),
        );
        if let Some(actor) = self.actors.get(&key, &version) {
            return Ok(actor);
        }
        // Read before resolving: a write that lands meanwhile moves the version past this one,
        // so what is cached here is never used after it.
        let mut conn = self.store.acquire().await?;
        let actor = Arc::new(
            self.resolve_uncached(&mut conn, identity, account_slug, host, &version)
                .await?,
        );
        self.actors.put(key, version, actor.clone());
        Ok(actor)
    }

    /// The authorization version as of some moment after this call began (see
    /// `authz_version::SharedVersionRead`).
    async fn authz_version(&self) -> Result<String> {
        self.authz_reads.read(&self.store).await
    }

    async fn resolve_uncached(
        &self,
        conn: &mut store::Conn,
        identity: &Identity,
        account_slug: Option<&str>,
        host: Option<&str>,
        authz_version: &str,
    ) -> Result<Actor> {
        let conn = &mut *conn;
        if let Identity::Federated { .. } = identity {
            return self
                .resolve_trusted(conn, identity, account_slug, host, authz_version)
                .await;
        }
        let user = match identity {
            Identity::Operator => {
                let master = store::find_master_account(conn)
                    .await?
                    .ok_or_else(|| Error::internal("the platform has not been bootstrapped"))?;
                store::find_user_by_id(conn, &master.owner_user_id)
                    .await?
                    .ok_or_else(|| Error::internal("the master account has no owner"))?
            }
            Identity::Email(email) => store::find_user_by_email(conn, email)
                .await?
                .ok_or_else(|| no_access(email))?,
            Identity::Oidc {
                issuer,
                subject,
                email,
                ..
            } => {
                self.user_for_subject(conn, issuer, subject, email.as_deref())
                    .await?
            }
            Identity::Federated { .. } => {
                return Err(Error::internal(
                    "a federated identity is resolved by its rules",
                ));
            }
        };

        let tenant: Option<TenantRow> = match host {
            Some(host) => {
                let domain = host.rsplit_once(':').map_or(host, |(name, _port)| name);
                store::find_tenant_by_domain(conn, &domain.to_ascii_lowercase()).await?
            }
            None => None,
        };
        let memberships: Vec<_> = store::memberships_of(conn, &user.id)
            .await?
            .into_iter()
            .filter(|m| m.status == MembershipStatus::Active)
            .filter(|m| tenant.as_ref().is_none_or(|t| t.id == m.account_tenant_id))
            .collect();
        let Some(first) = memberships.first() else {
            return Err(no_access(&user.email));
        };

        let account = match account_slug {
            None => store::find_account_by_id(conn, &first.account_id)
                .await?
                .ok_or_else(|| Error::internal("membership without account"))?,
            Some(slug) => {
                let account = store::find_account_by_slug(conn, slug).await?;
                match account {
                    Some(a)
                        if memberships
                            .iter()
                            .any(|m| a.path.starts_with(&m.account_path)) =>
                    {
                        a
                    }
                    _ => return Err(Error::not_found("account", slug)),
                }
            }
        };
        // The deepest membership on the account's path decides the user's groups there.
        let home = memberships
            .iter()
            .filter(|m| account.path.starts_with(&m.account_path))
            .max_by_key(|m| m.account_path.len())
            .ok_or_else(|| Error::not_found("account", &account.slug))?;
        let mut permissions = store::permissions_of(conn, &home.account_id, &user.id).await?;
        if let Identity::Oidc { groups, .. } = identity
            && !groups.is_empty()
        {
            // R-GOV-1: the links of the account the user is linked to, and of no other,
            // applied to this token's groups; nothing is written.
            permissions.extend(store::idp_permissions_of(conn, &home.account_id, groups).await?);
            permissions.sort();
            permissions.dedup();
        }
        let home_account = store::find_account_by_id(conn, &home.account_id).await?;
        if home_account.is_some_and(|a| a.owner_user_id == user.id) {
            // An owner can never lock themselves out of their own account.
            permissions = vec![vocabulary::ALL_PERMISSIONS.to_owned()];
        }
        let tenant_name = store::find_tenant_by_id(conn, &account.tenant_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        Ok(Actor {
            user,
            account,
            tenant_name,
            permissions,
            membership_account_id: home.account_id.clone(),
            delegated_by: None,
            origin: super::Origin::default(),
            authz_version: authz_version.to_owned(),
        })
    }

    /// R-GOV-5: `service` acting for the user `email`, with that user's permissions, in the account
    /// whose groups trusted the service and nowhere else: not in a sub-account it can see, not in
    /// another account the user belongs to.
    pub async fn resolve_delegated_actor(
        &self,
        service: &Actor,
        email: &str,
        host: Option<&str>,
    ) -> Result<Arc<Actor>> {
        let delegated = self.delegate(service, email, host).await;
        if let Err(refusal) = &delegated
            && refusal.kind == ErrorKind::PermissionDenied
        {
            // A refused delegation is on record like any refusal, as the service's (R-GOV-3).
            let mut conn = self.store.acquire().await?;
            self.record_refusal(&mut conn, service, AuditAction::UserActFor, email, refusal)
                .await;
        }
        delegated
    }

    async fn delegate(
        &self,
        service: &Actor,
        email: &str,
        host: Option<&str>,
    ) -> Result<Arc<Actor>> {
        service.require(Permission::ActForUsers).map_err(|err| {
            err.with_hint(format!(
                "an admin of '{}' grants it by naming it in a group of the service identity \
                 (`plat group create NAME --permission {}`); `*` does not include it",
                service.account.slug,
                Permission::ActForUsers
            ))
        })?;
        if service.membership_account_id != service.account.id {
            return Err(Error::denied(format!(
                "{} acts for users only in the account that trusted it, not in '{}'",
                service.user.email, service.account.slug
            ))
            .with_hint(
                "leave out the account (X-Plat-Account) or name the service's own account",
            ));
        }
        let user = self
            .resolve_actor(
                &Identity::Email(email.to_owned()),
                Some(&service.account.slug),
                host,
            )
            .await
            .map_err(|err| match err.kind {
                // One answer whether the user is unknown or belongs elsewhere (R-SEC-3).
                ErrorKind::NotFound | ErrorKind::Unauthenticated => Error::denied(format!(
                    "{} cannot act for {email}: no such user has access to account '{}'",
                    service.user.email, service.account.slug
                ))
                .with_hint("an admin links the user with `plat user create EMAIL`"),
                _ => err,
            })?;
        let mut actor = (*user).clone();
        actor.delegated_by = Some(service.user.email.clone());
        Ok(Arc::new(actor))
    }

    async fn user_for_subject(
        &self,
        conn: &mut store::Conn,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
    ) -> Result<UserRow> {
        if let Some(user) = store::find_user_by_subject(conn, issuer, subject).await? {
            return Ok(user);
        }
        let Some(email) = email else {
            return Err(no_access(subject));
        };
        if vocabulary::check_email(email).is_err() {
            // Platform users are named by e-mail: a claim whose values are not e-mails
            // can never link a subject.
            return Err(no_access(email).with_hint(
                "the server's username claim must hold the user's e-mail \
                 (`plat server --oidc-username-claim`: email, upn, or preferred_username when \
                 the IdP's user names are e-mails)",
            ));
        }
        let Some(mut user) = store::find_user_by_email(conn, email).await? else {
            return Err(no_access(email));
        };
        if user.subject.is_some() {
            // Another identity already claimed this e-mail; a second subject must not take it over.
            return Err(no_access(email));
        }
        user.issuer = Some(issuer.to_owned());
        user.subject = Some(subject.to_owned());
        store::update_user(conn, &user).await?;
        Ok(user)
    }
}

pub(super) type ActorKey = (Identity, Option<String>, Option<String>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_grants_everything_but_acting_for_users_r_gov_5() {
        let admins = vec![vocabulary::ALL_PERMISSIONS.to_owned()];
        assert!(grants(&admins, Permission::EnvsWrite));
        assert!(!grants(&admins, Permission::ActForUsers));
        let service = vec![Permission::ActForUsers.as_str().to_owned()];
        assert!(grants(&service, Permission::ActForUsers));
        assert!(!grants(&service, Permission::EnvsWrite));
    }
}
