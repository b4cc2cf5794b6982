//! R-GOV-2: environments of protected templates (a template's `approval: required`, or an
//! account's or tenant's policy) wait for an approver before anything is provisioned. A pending
//! request spends no quota and runs no Terraform; approvers hold `envs:approve` and never decide
//! their own request (four eyes); undecided requests expire.
//!
//! After the approval the requester's side provisions, as with every env (the platform does not
//! run Terraform for users): a waiting `plat env up --wait` goes on by itself, and otherwise the
//! requester's next `plat env up NAME` (same template and parameters) provisions the approved env.

use jiff::SignedDuration;

use super::envs::env_view;
use super::vocabulary::{AuditAction, Permission};
use super::{Actor, Error, Result, Service};
use crate::api::EnvStatus;
use crate::api::{CreateEnv, DecideEnv, Env, EnvDecision, EnvStarted, Timestamp};
use crate::store::{self, AccountRow, ApprovalRow, EnvRow};

/// How long a request waits for a decision before it expires, unless the platform says
/// otherwise (`PLAT_APPROVAL_WINDOW`).
pub const DEFAULT_APPROVAL_WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// The longest a platform may let a request wait: a month.
pub const MAX_APPROVAL_WINDOW_SECONDS: i64 = 31 * 24 * 60 * 60;
/// A platform's approval window as configured (`24h`, `2d`…): from a minute to a month.
pub fn parse_approval_window(text: &str) -> Result<i64> {
    let window = crate::iac::parse_duration(text)
        .map_err(|err| Error::invalid(format!("approval window: {err}")))?;
    let seconds = window.as_secs();
    if !(60..=MAX_APPROVAL_WINDOW_SECONDS).contains(&seconds) {
        return Err(Error::invalid(format!(
            "approval window '{text}' must be between 1m and 31d"
        )));
    }
    Ok(seconds)
}

/// The longest comment an approver may leave.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Why approval is needed, as recorded in `required_by`.
const BY_TEMPLATE: &str = "template";
const BY_POLICY: &str = "policy";

/// Decisions as stored.
mod decision {
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const EXPIRED: &str = "expired";
}

/// Policy scopes that apply to `account`: every account from the root down, and its tenant.
fn policy_scopes(account: &AccountRow) -> Vec<String> {
    account
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|id| format!("account:{id}"))
        .chain([format!("tenant:{}", account.tenant_id)])
        .collect()
}

fn later(from: Timestamp, seconds: i64) -> Timestamp {
    from.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(from)
}

impl Service {
    /// Whether envs of `template` in `account` need an approval, and why.
    pub(super) async fn approval_requirement(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
        template: &str,
    ) -> Result<Option<&'static str>> {
        if self.env_templates.approval_required(template)? {
            return Ok(Some(BY_TEMPLATE));
        }
        let protected = store::approval_templates(conn, &policy_scopes(account)).await?;
        Ok(protected.iter().any(|t| t == template).then_some(BY_POLICY))
    }

    /// Templates protected for `account` by its own, its ancestors' and its tenant's policies.
    pub(super) async fn protected_templates(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
    ) -> Result<Vec<String>> {
        Ok(store::approval_templates(conn, &policy_scopes(account)).await?)
    }

    /// Turns a new env into a request that waits for a decision: nothing counted, and the
    /// lifetime asked for kept until the approval starts it.
    pub(super) fn await_approval(&self, row: &mut EnvRow, required_by: &str, ttl_seconds: i64) {
        let now = self.now();
        let deadline = later(now, self.approval_window_seconds);
        row.status = EnvStatus::PendingApproval;
        row.quota_counted = false;
        row.expires_at = deadline;
        row.approval = Some(ApprovalRow {
            required_by: required_by.to_owned(),
            ttl_seconds,
            requested_at: now,
            expires_at: deadline,
            ..ApprovalRow::default()
        });
    }

    /// The requester's `up` of an approved env: starts provisioning exactly what was approved.
    /// `None` when `req` does not name an approved env (an ordinary `up`).
    pub(super) async fn resume_approved(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        req: &CreateEnv,
    ) -> Result<Option<EnvStarted>> {
        let Some(mut row) = store::find_live_env(conn, &actor.account.id, &req.name).await? else {
            return Ok(None);
        };
        if row.status != EnvStatus::Approved {
            return Ok(None);
        }
        if row.owner_user_id != actor.user.id {
            return Err(Error::conflict(format!(
                "environment '{}' was approved for {}; only they provision it",
                row.name, row.owner_email
            ))
            .with_hint("pick another name for your own environment"));
        }
        let approved_params: serde_json::Value =
            store::stored_json("envs", &row.id, "params", &row.params)?;
        if row.template != req.template || approved_params != req.params {
            return Err(Error::conflict(format!(
                "environment '{}' was approved with template {} and other parameters",
                row.name, row.template
            ))
            .with_hint(format!(
                "run `plat env up {}` with the template and parameters that were approved ({})",
                row.name, row.params
            )));
        }
        if row.expires_at <= self.now() {
            return Err(Error::not_approved(format!(
                "the approval of environment '{}' lapsed at {}",
                row.name, row.expires_at
            ))
            .with_hint("`plat env reap` closes it; then ask again with `plat env up`"));
        }
        row.status = EnvStatus::Provisioning;
        store::update_env(conn, &row).await?;
        Ok(Some(EnvStarted {
            env: env_view(row)?,
            created: true,
        }))
    }

    /// `plat env approve|reject`: by a holder of `envs:approve` other than the requester.
    /// An approval is checked against the requester's quota, which it then spends (R-ENV-3).
    pub async fn decide_env(&self, actor: &Actor, name: &str, req: DecideEnv) -> Result<Env> {
        let action = match req.decision {
            EnvDecision::Approve => AuditAction::EnvApprove,
            EnvDecision::Reject => AuditAction::EnvReject,
        };
        self.audited(actor, action, name, async |tx: &mut store::Conn| {
            self.decide_env_in_tx(tx, actor, name, req).await
        })
        .await
    }

    async fn decide_env_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        req: DecideEnv,
    ) -> Result<Env> {
        actor.require(Permission::EnvsApprove)?;
        let comment = req
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if let Some(comment) = &comment
            && comment.chars().count() > MAX_COMMENT_CHARS
        {
            return Err(Error::invalid(format!(
                "the comment must be at most {MAX_COMMENT_CHARS} characters"
            ))
            .with_hint("link to a longer text instead"));
        }
        let owner = self
            .live_env_or_closed_request(tx, actor, name)
            .await?
            .owner_user_id;
        // The requester's quota decisions (their `up`s, other approvals) take turns with this one.
        store::lock_user(tx, &owner).await?;
        let mut row = self.live_env_or_closed_request(tx, actor, name).await?;
        let approval = match (&row.approval, row.status) {
            (Some(approval), EnvStatus::PendingApproval) => approval.clone(),
            (Some(_), current) => {
                return Err(Error::conflict(format!(
                    "environment '{name}' is {current}: its request was decided already"
                ))
                .with_hint(format!("run `plat env show {name}` to see the decision")));
            }
            (None, _) => {
                return Err(Error::conflict(format!(
                    "environment '{name}' does not need an approval"
                ))
                .with_hint("only environments of protected templates wait for one"));
            }
        };
        if row.owner_user_id == actor.user.id {
            return Err(Error::denied(format!(
                "{} asked for environment '{name}' and cannot decide on it (four eyes)",
                actor.user.email
            ))
            .with_hint(format!(
                "ask another holder of '{}' in account '{}'",
                Permission::EnvsApprove,
                actor.account.slug
            )));
        }
        let now = self.now();
        if approval.expires_at <= now {
            return Err(Error::not_approved(format!(
                "the request for environment '{name}' expired at {}",
                approval.expires_at
            ))
            .with_hint("the requester asks again with `plat env up`"));
        }
        let decided = match req.decision {
            EnvDecision::Approve => {
                let policy = self.effective_policy(tx, &actor.account).await?;
                let (since, resets_at) = self.quota_window();
                let used = store::count_quota_envs(tx, &row.owner_user_id, since).await?;
                if used >= policy.envs_per_day {
                    return Err(Error::quota(format!(
                        "{} has used their environment quota: {used}/{} today, resets {resets_at}",
                        row.owner_email, policy.envs_per_day
                    ))
                    .with_hint(
                        "approve after the reset, or raise the policy (`plat policy set`)",
                    ));
                }
                // R-GOV-4: an approved env costs from now on, and its lifetime must fit every
                // budget above it; a pending request cost nothing.
                let params = store::stored_json("envs", &row.id, "params", &row.params)?;
                let cost = self.plan_env_cost(actor, &row.name, &row.template, &params)?;
                if let Some((daily_micros, _)) = &cost {
                    let lifetime = super::spend::accrued(*daily_micros, approval.ttl_seconds);
                    self.check_budgets(tx, &actor.account, lifetime).await?;
                }
                let expires = later(now, approval.ttl_seconds);
                store::start_approved_env(tx, &row.id, EnvStatus::Approved, now, expires).await?;
                if let Some((daily_micros, labels)) = &cost {
                    row.created_at = now;
                    self.record_env_spend(tx, &row, *daily_micros, labels)
                        .await?;
                }
                decision::APPROVED
            }
            EnvDecision::Reject => {
                self.close_request(&mut row, EnvStatus::Rejected);
                store::update_env(tx, &row).await?;
                decision::REJECTED
            }
        };
        let recorded = store::decide_env_approval(
            tx,
            &row.id,
            decided,
            Some(&actor.user.id),
            now,
            comment.as_deref(),
        )
        .await?;
        if !recorded {
            return Err(Error::conflict(format!(
                "environment '{name}' was decided by someone else meanwhile"
            ))
            .with_hint(format!("run `plat env show {name}`")));
        }
        env_by_id(tx, &row.id).await
    }

    /// Ends a request that never got an env: its name is free again and it costs nothing.
    fn close_request(&self, row: &mut EnvRow, final_status: EnvStatus) {
        row.status = final_status;
        row.destroyed_at = Some(self.now());
        row.quota_counted = false;
        row.reaper_lease_until = None;
    }

    /// For the reaper: an expired env the reaper claimed is destroyed by Terraform, unless it
    /// was never provisioned (pending, or approved and never started); such a request is closed
    /// here as `expired`, without Terraform.
    pub(super) async fn expire_if_unprovisioned(
        &self,
        conn: &mut store::Conn,
        mut row: EnvRow,
    ) -> Result<Env> {
        let pending = row.status == EnvStatus::PendingApproval;
        if !pending && row.status != EnvStatus::Approved {
            return env_view(row);
        }
        let mut tx = self.store.begin(conn).await?;
        if pending {
            store::decide_env_approval(&mut tx, &row.id, decision::EXPIRED, None, self.now(), None)
                .await?;
        }
        self.close_request(&mut row, EnvStatus::Expired);
        store::update_env(&mut tx, &row).await?;
        tx.commit().await?;
        env_by_id(conn, &row.id).await
    }

    /// A live env, or else the last request of that name that ended without ever being
    /// provisioned (rejected, expired), so that its requester sees why (`env show`, `up --wait`).
    pub(super) async fn live_env_or_closed_request(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<EnvRow> {
        if let Some(row) = store::find_live_env(conn, &actor.account.id, name).await? {
            return Ok(row);
        }
        if let Some(row) = store::find_last_env(conn, &actor.account.id, name).await?
            && (row.status == EnvStatus::Rejected || row.status == EnvStatus::Expired)
        {
            return Ok(row);
        }
        self.live_env(conn, actor, name).await
    }

    /// `policy set --require-approval T` / `--no-require-approval T` on one scope.
    pub(super) async fn set_protected_templates(
        &self,
        conn: &mut store::Conn,
        scope: &str,
        protect: &[String],
        unprotect: &[String],
    ) -> Result<()> {
        if let Some(both) = protect.iter().find(|t| unprotect.contains(t)) {
            return Err(Error::invalid(format!(
                "template '{both}' is both protected and unprotected in one request"
            ))
            .with_hint("give it to --require-approval or --no-require-approval, not both"));
        }
        for template in protect {
            // Only known templates: a typo would otherwise protect nothing, silently.
            self.env_templates.ttl_limits(template)?;
            store::add_approval_template(conn, scope, template, self.now()).await?;
        }
        for template in unprotect {
            store::remove_approval_template(conn, scope, template).await?;
        }
        Ok(())
    }
}

/// Refuses to record a run of an env no approver has let through: its `up` never starts.
pub(super) fn require_approved(row: &EnvRow) -> Result<()> {
    if row.status == EnvStatus::PendingApproval || row.status == EnvStatus::Approved {
        return Err(Error::conflict(format!(
            "environment '{}' is {}: it was not provisioned",
            row.name, row.status
        ))
        .with_hint(format!(
            "its requester's `plat env up {}` provisions it once approved",
            row.name
        )));
    }
    Ok(())
}

/// An env as stored now, with its approval (on the caller's connection: the embedded platform
/// has only one).
async fn env_by_id(conn: &mut store::Conn, id: &str) -> Result<Env> {
    let row = store::find_env_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::internal(format!("environment {id} vanished")))?;
    env_view(row)
}

pub(super) fn approval_view(row: ApprovalRow) -> crate::api::EnvApproval {
    crate::api::EnvApproval {
        required_by: row.required_by,
        requested_at: row.requested_at,
        expires_at: row.expires_at,
        decision: row.decision,
        decided_by: row.decided_by,
        decided_at: row.decided_at,
        comment: row.comment,
    }
}

#[cfg(test)]
mod tests;
