//! The audit trail (R-GOV-3). Every write goes through [`Service::audited`], the one call that
//! runs it in a transaction, appends its record to that same transaction, and, when the write is
//! refused, rolls it back and appends the refusal on its own. Records name who, where, what and
//! the outcome; they never hold a parameter's value, so no secret can reach them.

use jiff::SignedDuration;

use super::vocabulary::{AuditAction, Permission};
use super::{Actor, Error, ErrorKind, Result, Service, vocabulary};
use crate::api::{AuditEvent, AuditOutcome, AuditPage, AuditQuery, Timestamp};
use crate::store::{self, AuditRow, AuditSelection, Conn};

/// Where a request came from, for its audit records and logs: one id per request (one per
/// command on the embedded platform) and its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub request_id: String,
    /// `cli` (embedded), `server <client address>`, or a server task such as `server reaper`.
    pub source: String,
}

impl Origin {
    /// A new request from `source`.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            request_id: store::new_id(),
            source: source.into(),
        }
    }
}

/// Records per page when the caller names no limit, and the most a page holds.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// The shortest retention a server may be given: a prune never reaches today's records.
pub const MIN_RETENTION: SignedDuration = SignedDuration::from_hours(24);

/// The identity that appends the record of a retention prune.
const RETENTION_ACTOR: &str = "plat server (audit retention)";

/// Refusals are the platform's rules saying no; a request that was merely wrong (a typo, a
/// name already taken) or that failed (an outage) is not one.
fn is_refusal(err: &Error) -> bool {
    matches!(
        err.kind,
        ErrorKind::PermissionDenied | ErrorKind::QuotaExceeded | ErrorKind::NotApproved
    )
}

impl Service {
    /// Runs one write of `actor` and keeps its record: the ONE call every write makes. A public
    /// write names its action and target here and hands over to its `…_in_tx` twin, which holds
    /// the rules and works on the transaction it is given:
    ///
    /// ```ignore
    /// pub async fn delete_group(&self, actor: &Actor, name: &str) -> Result<()> {
    ///     self.audited(actor, AuditAction::GroupDelete, name, async |tx: &mut store::Conn| {
    ///         self.delete_group_in_tx(tx, actor, name).await
    ///     })
    ///     .await
    /// }
    /// ```
    ///
    /// `write` gets a connection inside a fresh transaction. When it succeeds, the `ok` record of
    /// `action` on `target` is appended to that transaction before it commits, so the write and
    /// its record land together or not at all. When the platform's rules refuse it (permission,
    /// quota), the transaction rolls back and the refusal is appended on its own, with its
    /// error code. Actions are `noun.verb` (`env.down`); `target` is the name the caller gave.
    pub(super) async fn audited<T>(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        write: impl AsyncFnOnce(&mut Conn) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        match write(&mut tx).await {
            Ok(value) => {
                if self.records_audit {
                    let row = self.audit_row(actor, action, target, AuditOutcome::Ok, None);
                    store::append_audit(&mut tx, &row).await?;
                }
                tx.commit().await?;
                // The server's log line of the write: its span carries the request id.
                tracing::info!(action = action.as_str(), target, actor = %actor.user.email, outcome = "ok", "audit");
                Ok(value)
            }
            Err(err) => {
                drop(tx);
                if is_refusal(&err) {
                    tracing::info!(action = action.as_str(), target, actor = %actor.user.email, outcome = "refused", code = err.kind.code(), "audit");
                    self.record_refusal(&mut conn, actor, action, target, &err)
                        .await;
                }
                Err(err)
            }
        }
    }

    /// Appends the record of a refused request in a transaction of its own (the refused one
    /// rolled back). The caller still gets the refusal if the record cannot be written: the
    /// request changed nothing either way, and the failure goes to the server's log.
    pub(super) async fn record_refusal(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        refusal: &Error,
    ) {
        if !self.records_audit {
            return;
        }
        let row = self.audit_row(
            actor,
            action,
            target,
            AuditOutcome::Refused,
            Some(refusal.kind.code()),
        );
        let appended = async {
            let mut tx = self.store.begin(conn).await?;
            store::append_audit(&mut tx, &row).await?;
            tx.commit().await
        };
        if let Err(err) = appended.await {
            tracing::error!(action = action.as_str(), target, error = %err, "could not record a refusal in the audit trail");
        }
    }

    fn audit_row(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        outcome: AuditOutcome,
        error_code: Option<&str>,
    ) -> AuditRow {
        AuditRow {
            id: store::new_audit_id(),
            at: self.now(),
            actor: actor.user.email.clone(),
            actor_issuer: actor.user.issuer.clone(),
            delegated_by: actor.delegated_by.clone(),
            account_id: actor.account.id.clone(),
            account_path: actor.account.path.clone(),
            account_slug: actor.account.slug.clone(),
            action: action.as_str().to_owned(),
            target: target.to_owned(),
            outcome: outcome.as_str().to_owned(),
            error_code: error_code.map(str::to_owned),
            request_id: actor.origin.request_id.clone(),
            source: actor.origin.source.clone(),
        }
    }

    /// The acting account's records and its descendants', newest first; never its parent's
    /// (R-ACC-6/7). A page ends with the token of the next one.
    pub async fn list_audit(&self, actor: &Actor, query: &AuditQuery) -> Result<AuditPage> {
        actor.require(Permission::AuditRead)?;
        let limit = match query.limit {
            None => DEFAULT_PAGE,
            Some(limit @ 1..=MAX_PAGE) => limit,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "the limit must be between 1 and {MAX_PAGE}, got {other}"
                )));
            }
        };
        let since = match query.since.as_deref() {
            None => None,
            Some(text) => Some(self.since(text)?),
        };
        let before_id = match query.cursor.as_deref() {
            None => None,
            Some(token) => Some(cursor_id(token)?),
        };
        let selection = AuditSelection {
            subtree: actor.account.path.clone(),
            since,
            actor: query.actor.clone(),
            action: match query.action.as_deref() {
                None => None,
                Some(text) => Some(audit_action(text)?.as_str().to_owned()),
            },
            outcome: query.outcome.map(|o| o.as_str().to_owned()),
            before_id,
            // One more than asked tells whether a next page exists.
            limit: limit + 1,
        };
        let mut conn = self.store.acquire().await?;
        let mut rows = store::list_audit(&mut conn, &selection).await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|row| cursor_token(&row.id))
        } else {
            None
        };
        let events = rows.into_iter().map(audit_event).collect::<Result<_>>()?;
        Ok(AuditPage { events, next })
    }

    /// `since` as a time: an age back from now (`24h`, `7d`) or an RFC 3339 time.
    fn since(&self, text: &str) -> Result<Timestamp> {
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(at);
        }
        let age = vocabulary::parse_age(text).map_err(|err| {
            err.with_hint("give an age such as 24h or 7d, or a time such as 2026-12-01T00:00:00Z")
        })?;
        Ok(self.now().checked_sub(age).unwrap_or(Timestamp::MIN))
    }

    /// Deletes the records older than `retention` and, when any went, appends the record of the
    /// pruning in the same transaction, in the master account (whose admins alone see it). Returns how many
    /// records went. The database lets this delete, and only this one, through (migration 0013).
    pub async fn prune_audit(&self, retention: SignedDuration) -> Result<u64> {
        if retention < MIN_RETENTION {
            return Err(Error::invalid(format!(
                "the audit retention must be at least {}, got {retention:#}",
                MIN_RETENTION.as_hours()
            )));
        }
        let cutoff = self.now().checked_sub(retention).unwrap_or(Timestamp::MIN);
        let mut conn = self.store.acquire().await?;
        let mut tx = self.store.begin(&mut conn).await?;
        let master = store::find_master_account(&mut tx)
            .await?
            .ok_or_else(|| Error::internal("the platform has not been bootstrapped"))?;
        let pruned = store::prune_audit(&mut tx, cutoff).await?;
        if pruned == 0 {
            // Nothing left the trail: no record of it either, so an idle prune adds no noise.
            return Ok(0);
        }
        let origin = Origin::new("server");
        let row = AuditRow {
            id: store::new_audit_id(),
            at: self.now(),
            actor: RETENTION_ACTOR.into(),
            actor_issuer: None,
            delegated_by: None,
            account_id: master.id,
            account_path: master.path,
            account_slug: master.slug,
            action: AuditAction::AuditPrune.as_str().into(),
            target: format!("{pruned} records before {cutoff}"),
            outcome: AuditOutcome::Ok.as_str().into(),
            error_code: None,
            request_id: origin.request_id,
            source: origin.source,
        };
        store::append_audit(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(pruned)
    }
}

fn audit_event(row: AuditRow) -> Result<AuditEvent> {
    let outcome = match row.outcome.as_str() {
        "ok" => AuditOutcome::Ok,
        "refused" => AuditOutcome::Refused,
        other => {
            return Err(Error::internal(format!(
                "audit record {} has an unknown outcome '{other}'",
                row.id
            )));
        }
    };
    Ok(AuditEvent {
        id: row.id,
        at: row.at,
        actor: row.actor,
        actor_issuer: row.actor_issuer,
        delegated_by: row.delegated_by,
        account: row.account_slug,
        action: row.action,
        target: row.target,
        outcome,
        error_code: row.error_code,
        request_id: row.request_id,
        source: row.source,
    })
}

/// The `next` token: opaque to clients, so its form may change; today the last record's id.
fn cursor_token(id: &str) -> String {
    format!("a1.{id}")
}

fn cursor_id(token: &str) -> Result<String> {
    token
        .strip_prefix("a1.")
        .filter(|id| id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::invalid(format!("'{token}' is not a cursor of this listing"))
                .with_hint("pass the `next` token of the previous page as it was")
        })
}

#[cfg(test)]
mod tests;

/// An `--action` filter: one of the actions the trail records, so that a typo is an error
/// rather than an empty page.
fn audit_action(text: &str) -> Result<AuditAction> {
    AuditAction::parse(text).ok_or_else(|| {
        let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        Error::invalid(format!(
            "unknown audit action '{text}'; the trail records {}",
            known.join(", ")
        ))
    })
}
