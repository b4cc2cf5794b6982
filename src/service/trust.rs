//! Trust rules (R-GOV-5): an account's admin lets the tokens of an external issuer (the ID token
//! GitHub Actions gives each job) act as a service identity of the account, with exactly one
//! group's permissions, when the token's claims match. Matching lives here, once; the server
//! only verifies signatures.

use std::collections::BTreeMap;

use super::actor::{Actor, Identity};
use super::vocabulary::{self, AuditAction, Permission, Role};
use super::{Error, Result, Service};
use crate::api::{CreateTrustRule, TrustRule};
use crate::store::{self, TrustRuleRow, UserRow};

/// The issuer of GitHub Actions ID tokens (github.com; GHES uses `https://HOST/_services/token`).
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Claims that pin a token to one repository or owner. A rule for GitHub's issuer must name one:
/// every repository on github.com gets tokens from that issuer, so a rule on `ref` or
/// `environment` alone would trust strangers' workflows.
const GITHUB_PINNING_CLAIMS: [&str; 5] = [
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "sub",
];

/// Claims checked by signature verification itself, never by a rule.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

const MAX_CLAIMS: usize = 32;
const MAX_CLAIM_NAME_LEN: usize = 64;
const MAX_CLAIM_VALUE_LEN: usize = 512;
const MAX_AUDIENCE_LEN: usize = 256;

/// The issuer written the one way rules and tokens are compared: without a trailing `/`.
pub fn normalize_issuer(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

/// The service identity of a rule: a handle in the reserved `.invalid` domain (RFC 2606), so no
/// identity provider can ever vouch for it as a person's e-mail.
fn identity_email(rule: &str, account_slug: &str) -> String {
    format!("{rule}@{account_slug}.trust.invalid")
}

/// Marks the identity's user row as a trust rule's, so that no IdP subject links to it by e-mail.
const IDENTITY_ISSUER: &str = "urn:plat:trust";

/// Whether a token's claim value satisfies a rule's: equal, or starting with the part before a
/// final `*`.
fn claim_matches(wanted: &str, actual: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => wanted == actual,
    }
}

/// The names of the rule's claims that the token does not satisfy (missing or different).
fn unmatched_claims(
    rule: &BTreeMap<String, String>,
    token: &BTreeMap<String, String>,
) -> Vec<String> {
    rule.iter()
        .filter(|(name, wanted)| {
            token
                .get(name.as_str())
                .is_none_or(|actual| !claim_matches(wanted, actual))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Refuses what a rule could never match or would match too widely.
fn check_rule(req: &CreateTrustRule) -> Result<String> {
    vocabulary::check_slug("trust rule name", &req.name)?;
    let issuer = check_issuer(&req.issuer)?;
    check_audience(&req.audience)?;
    check_claims(&req.claims)?;
    if issuer == GITHUB_ACTIONS_ISSUER
        && !GITHUB_PINNING_CLAIMS.iter().any(|name| {
            req.claims
                .get(*name)
                .is_some_and(|value| !value.starts_with('*'))
        })
    {
        return Err(Error::invalid(
            "a rule for GitHub Actions must pin the repository or its owner: every repository \
             on github.com gets tokens from this issuer",
        )
        .with_hint("add --claim repository=OWNER/REPO (or repository_owner=OWNER)"));
    }
    Ok(issuer.to_owned())
}

fn check_issuer(issuer: &str) -> Result<&str> {
    let hint = "give the issuer URL exactly as the tokens' `iss` claim has it, e.g. \
                https://token.actions.githubusercontent.com";
    let invalid = || {
        Error::invalid(format!(
            "invalid issuer '{}': an https URL (http only on loopback)",
            vocabulary::shorten(issuer)
        ))
        .with_hint(hint)
    };
    if issuer.len() > vocabulary::MAX_URL_LEN {
        return Err(invalid());
    }
    let url = reqwest::Url::parse(issuer).map_err(|_| invalid())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid());
    }
    Ok(normalize_issuer(issuer))
}

fn check_audience(audience: &str) -> Result<()> {
    if audience.is_empty()
        || audience.len() > MAX_AUDIENCE_LEN
        || audience
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "invalid audience '{}': 1-{MAX_AUDIENCE_LEN} characters, no spaces",
            vocabulary::shorten(audience)
        ))
        .with_hint("the audience the job asks its token for, e.g. plat (`plat login --github-actions --audience`)"));
    }
    Ok(())
}

fn check_claims(claims: &BTreeMap<String, String>) -> Result<()> {
    let hint = "write each as --claim NAME=VALUE, e.g. --claim repository=acme/shop; \
                a value ending in * matches by prefix (ref=refs/heads/release/*)";
    if claims.is_empty() {
        return Err(Error::invalid(
            "a trust rule needs at least one claim to match: without one it would trust every \
             token of the issuer",
        )
        .with_hint(hint));
    }
    if claims.len() > MAX_CLAIMS {
        return Err(Error::invalid(format!(
            "a trust rule matches at most {MAX_CLAIMS} claims"
        )));
    }
    for (name, value) in claims {
        let name_ok = (1..=MAX_CLAIM_NAME_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        if !name_ok {
            return Err(Error::invalid(format!(
                "invalid claim name '{}'",
                vocabulary::shorten(name)
            ))
            .with_hint(hint));
        }
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(Error::invalid(format!(
                "the claim '{name}' cannot be matched by a rule: the issuer and audience are \
                 options of their own, and expiry is always checked"
            ))
            .with_hint("use --issuer and --audience"));
        }
        let pattern = value.strip_suffix('*').unwrap_or(value);
        if pattern.is_empty()
            || value.len() > MAX_CLAIM_VALUE_LEN
            || pattern.contains('*')
            || value.chars().any(char::is_control)
        {
            return Err(Error::invalid(format!(
                "invalid value for claim '{name}': '{}' (not empty, not only *, * only at the end)",
                vocabulary::shorten(value)
            ))
            .with_hint(hint));
        }
    }
    Ok(())
}

fn rule_view(row: TrustRuleRow, identity: String) -> TrustRule {
    TrustRule {
        id: row.id,
        name: row.name,
        issuer: row.issuer,
        audience: row.audience,
        claims: row.claims,
        group: row.group_name,
        identity,
        created_at: row.created_at,
    }
}

fn require_trust_admin(actor: &Actor) -> Result<()> {
    actor.require_role(Role::UserAdmin, "manage trust rules")?;
    actor.require(Permission::TrustManage)
}

impl Service {
    pub async fn list_trust_rules(&self, actor: &Actor) -> Result<Vec<TrustRule>> {
        actor.require(Permission::TrustManage)?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_trust_rules(&mut conn, &actor.account.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let identity = identity_email(&row.name, &actor.account.slug);
                rule_view(row, identity)
            })
            .collect())
    }

    /// Adds a rule; its tokens act as the service identity `NAME@ACCOUNT.trust.invalid`, with
    /// the group's permissions only and in this account only.
    pub async fn add_trust_rule(&self, actor: &Actor, req: CreateTrustRule) -> Result<TrustRule> {
        let target = req.name.clone();
        self.audited(
            actor,
            AuditAction::TrustAdd,
            &target,
            async |tx: &mut store::Conn| {
                require_trust_admin(actor)?;
                let issuer = check_rule(&req)?;
                let group = store::find_group(tx, &actor.account.id, &req.group)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found("group", &req.group)
                            .with_hint("`plat group list` shows the account's groups")
                    })?;
                if store::find_trust_rule(tx, &actor.account.id, &req.name)
                    .await?
                    .is_some()
                {
                    return Err(Error::conflict(format!(
                        "trust rule '{}' already exists in account '{}'",
                        req.name, actor.account.slug
                    ))
                    .with_hint(
                        "delete it first (`plat trust delete NAME`), or pick another name",
                    ));
                }
                let now = self.now();
                let email = identity_email(&req.name, &actor.account.slug);
                // A rule deleted and added again acts as the same identity: its envs stay its own.
                let user = match store::find_user_by_email(tx, &email).await? {
                    Some(user) => user,
                    None => {
                        let user = UserRow {
                            id: store::new_id(),
                            email: email.clone(),
                            name: Some(format!(
                                "trust rule {} of {}",
                                req.name, actor.account.slug
                            )),
                            issuer: Some(IDENTITY_ISSUER.to_owned()),
                            subject: Some(email.clone()),
                            created_at: now,
                        };
                        store::insert_user(tx, &user).await?;
                        user
                    }
                };
                let row = TrustRuleRow {
                    id: store::new_id(),
                    account_id: actor.account.id.clone(),
                    name: req.name.clone(),
                    issuer,
                    audience: req.audience.clone(),
                    claims: req.claims.clone(),
                    group_id: group.id.clone(),
                    group_name: group.name.clone(),
                    user_id: user.id.clone(),
                    created_at: now,
                };
                store::insert_trust_rule(tx, &row).await?;
                Ok(rule_view(row, email))
            },
        )
        .await
    }

    pub async fn delete_trust_rule(&self, actor: &Actor, name: &str) -> Result<()> {
        self.audited(
            actor,
            AuditAction::TrustDelete,
            name,
            async |tx: &mut store::Conn| {
                require_trust_admin(actor)?;
                let row = store::find_trust_rule(tx, &actor.account.id, name)
                    .await?
                    .ok_or_else(|| Error::not_found("trust rule", name))?;
                // The identity's user row stays (R-USR-1): its envs and audit records name it.
                store::delete_trust_rule(tx, &row.id).await?;
                Ok(())
            },
        )
        .await
    }

    /// The audiences the rules of `issuer` accept; empty when no account trusts the issuer.
    /// A server verifies a token of that issuer against these before matching the rules.
    pub async fn trusted_audiences(&self, issuer: &str) -> Result<Vec<String>> {
        let mut conn = self.store.acquire().await?;
        let rules = store::trust_rules_of_issuer(&mut conn, normalize_issuer(issuer)).await?;
        let mut audiences: Vec<String> = rules.into_iter().map(|rule| rule.audience).collect();
        audiences.sort();
        audiences.dedup();
        Ok(audiences)
    }

    /// R-GOV-5: a verified token of a trusted issuer, as the service identity of the one rule it
    /// matches, in that rule's account only and with the rule's group's permissions only.
    pub(super) async fn resolve_trusted(
        &self,
        conn: &mut store::Conn,
        identity: &Identity,
        account_slug: Option<&str>,
        host: Option<&str>,
        authz_version: &str,
    ) -> Result<Actor> {
        let Identity::Federated {
            issuer,
            audiences,
            claims,
        } = identity
        else {
            return Err(Error::internal("not a federated identity"));
        };
        let tenant = match host {
            Some(host) => {
                let domain = host.rsplit_once(':').map_or(host, |(name, _port)| name);
                store::find_tenant_by_domain(conn, &domain.to_ascii_lowercase()).await?
            }
            None => None,
        };
        let rules = store::trust_rules_of_issuer(conn, normalize_issuer(issuer)).await?;
        // The nearest miss: the rule with the most claims matched, then the fewest missed.
        let mut closest: Option<(usize, Vec<String>)> = None;
        let mut matched = Vec::new();
        for rule in rules {
            if !audiences.contains(&rule.audience) {
                continue;
            }
            let unmatched = unmatched_claims(&rule.claims, claims);
            if !unmatched.is_empty() {
                let matched_count = rule.claims.len() - unmatched.len();
                let nearer = closest.as_ref().is_none_or(|(best, missed)| {
                    (matched_count, std::cmp::Reverse(unmatched.len()))
                        > (*best, std::cmp::Reverse(missed.len()))
                });
                if nearer {
                    closest = Some((matched_count, unmatched));
                }
                continue;
            }
            let Some(account) = store::find_account_by_id(conn, &rule.account_id).await? else {
                continue;
            };
            // R-TEN-5: on a tenant's domain only that tenant's accounts exist.
            if tenant.as_ref().is_some_and(|t| t.id != account.tenant_id) {
                continue;
            }
            matched.push((rule, account));
        }
        if matched.is_empty() {
            return Err(no_rule_matches(
                issuer,
                claims,
                closest.map(|(_, missed)| missed).unwrap_or_default(),
            ));
        }
        // With an account named, only that account's rule; never a sub-account's (R-SEC-3:
        // the answer of an account that does not exist).
        let (rule, account) = match account_slug {
            Some(slug) => matched
                .into_iter()
                .find(|(_, account)| account.slug == slug)
                .ok_or_else(|| Error::not_found("account", slug))?,
            None => matched.swap_remove(0),
        };
        let user = store::find_user_by_id(conn, &rule.user_id)
            .await?
            .ok_or_else(|| Error::internal("trust rule without its identity"))?;
        let group = store::find_group(conn, &account.id, &rule.group_name)
            .await?
            .ok_or_else(|| Error::internal("trust rule without its group"))?;
        let tenant_name = store::find_tenant_by_id(conn, &account.tenant_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        let mut permissions = group.permissions;
        permissions.sort();
        permissions.dedup();
        Ok(Actor {
            user,
            membership_account_id: account.id.clone(),
            account,
            tenant_name,
            permissions,
            delegated_by: None,
            origin: super::Origin::default(),
            authz_version: authz_version.to_owned(),
        })
    }
}

/// Names the claims of the nearest rule that the token failed, with the token's own values:
/// enough to fix the workflow or the rule, and nothing of any account's rule values.
fn no_rule_matches(
    issuer: &str,
    claims: &BTreeMap<String, String>,
    unmatched: Vec<String>,
) -> Error {
    let message = if unmatched.is_empty() {
        format!("no trust rule accepts this token of {issuer} for its audience")
    } else {
        let shown: Vec<String> = unmatched
            .iter()
            .map(|name| match claims.get(name) {
                Some(value) => format!("{name} ('{}')", vocabulary::shorten(value)),
                None => format!("{name} (missing)"),
            })
            .collect();
        format!(
            "no trust rule accepts this token of {issuer}: its claims {} did not match",
            shown.join(", ")
        )
    };
    Error::unauthenticated(message).with_hint(
        "an admin of the account checks the rule with `plat trust list` (repository, ref and \
         environment must match exactly, or by prefix with a final *)",
    )
}

#[cfg(test)]
mod tests;
