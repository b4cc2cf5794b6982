//! R-GOV-2 in-process: the service alone decides who waits, who approves, and what it costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::super::envs::TtlLimits;
use super::super::{Actor, Clock, ErrorKind, Identity, Service};
use crate::api::{
    CreateEnv, CreateGroup, CreateUser, DecideEnv, EnvDecision, EnvStatus, SetEnvPolicy,
};
use crate::store::Store;

/// `demo` is open; `prod` says `approval: required` in its manifest.
struct Templates;

impl super::super::envs::EnvTemplates for Templates {
    fn ttl_limits(&self, template: &str) -> super::Result<TtlLimits> {
        match template {
            "demo" | "prod" => Ok(TtlLimits {
                default_seconds: 1800,
                max_seconds: 4 * 3600,
            }),
            other => Err(super::Error::not_found("environment template", other)),
        }
    }
    fn approval_required(&self, template: &str) -> super::Result<bool> {
        self.ttl_limits(template).map(|_| template == "prod")
    }
}

const DEV: &str = "dev@acme.test";
const APPROVER: &str = "approver@acme.test";
const PEER: &str = "peer@acme.test";

struct Platform {
    service: Service,
    /// Seconds the platform's clock is ahead of the real one.
    offset: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

impl Platform {
    /// The master account with: `dev` (developers), `approver` (developers + approvers) and
    /// `peer` (developers only); the operator is an admin (`*`).
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = Store::open(&url, 2).await.unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let shifted = offset.clone();
        let clock: Clock = Arc::new(move || {
            let now = jiff::Timestamp::now();
            now.checked_add(jiff::SignedDuration::from_secs(
                shifted.load(Ordering::SeqCst),
            ))
            .unwrap_or(now)
        });
        let service = Service::new(store, clock).with_env_templates(Arc::new(Templates));
        service
            .bootstrap(&crate::service::test_support::bootstrap())
            .await
            .unwrap();
        let platform = Self {
            service,
            offset,
            _dir: dir,
        };
        let operator = platform.operator().await;
        platform
            .service
            .create_group(
                &operator,
                CreateGroup {
                    name: "approvers".into(),
                    permissions: vec!["envs:approve".into()],
                },
            )
            .await
            .unwrap();
        for (email, groups) in [
            (DEV, vec!["developers"]),
            (APPROVER, vec!["developers", "approvers"]),
            (PEER, vec!["developers"]),
        ] {
            platform
                .service
                .create_user(
                    &operator,
                    CreateUser {
                        email: email.into(),
                        name: None,
                        groups: groups.into_iter().map(str::to_owned).collect(),
                    },
                )
                .await
                .unwrap();
        }
        platform
    }

    async fn operator(&self) -> Actor {
        self.actor_of(Identity::Operator).await
    }

    async fn user(&self, email: &str) -> Actor {
        self.actor_of(Identity::Email(email.into())).await
    }

    async fn actor_of(&self, identity: Identity) -> Actor {
        let actor = self
            .service
            .resolve_actor(&identity, Some("platform"), None)
            .await
            .unwrap();
        Arc::unwrap_or_clone(actor)
    }

    fn later_by_hours(&self, hours: i64) {
        self.offset.fetch_add(hours * 3600, Ordering::SeqCst);
    }

    async fn up(&self, who: &str, name: &str, template: &str) -> super::Result<crate::api::Env> {
        let actor = self.user(who).await;
        let started = self
            .service
            .start_env(&actor, request(name, template))
            .await?;
        Ok(started.env)
    }

    async fn decide(
        &self,
        actor: &Actor,
        name: &str,
        decision: EnvDecision,
    ) -> super::Result<crate::api::Env> {
        let req = DecideEnv {
            decision,
            comment: Some("change CHG-1".into()),
        };
        self.service.decide_env(actor, name, req).await
    }

    async fn quota_used(&self, who: &str) -> i64 {
        let actor = self.user(who).await;
        self.service.env_quota(&actor).await.unwrap().used
    }
}

fn request(name: &str, template: &str) -> CreateEnv {
    CreateEnv {
        name: name.into(),
        template: template.into(),
        params: serde_json::json!({}),
        ttl_seconds: None,
        idempotency_key: None,
    }
}

#[tokio::test]
async fn r_gov_2_a_protected_template_waits_spends_no_quota_and_only_another_approver_starts_it() {
    let platform = Platform::new().await;
    let pending = platform.up(DEV, "shop", "prod").await.unwrap();
    assert_eq!(pending.status, EnvStatus::PendingApproval);
    let approval = pending.approval.clone().unwrap();
    assert_eq!(approval.required_by, "template");
    assert_eq!(approval.decision, None);
    assert_eq!(platform.quota_used(DEV).await, 0, "pending spends no quota");
    // Nothing to resume yet: another `up` of the same name is a clash, not a second request.
    let again = platform.up(DEV, "shop", "prod").await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::Conflict);

    // Without envs:approve: refused.
    let peer = platform.user(PEER).await;
    let refused = platform.decide(&peer, "shop", EnvDecision::Approve).await;
    assert_eq!(refused.unwrap_err().kind, ErrorKind::PermissionDenied);

    let approver = platform.user(APPROVER).await;
    let approved = platform
        .decide(&approver, "shop", EnvDecision::Approve)
        .await
        .unwrap();
    assert_eq!(approved.status, EnvStatus::Approved);
    let decided = approved.approval.unwrap();
    assert_eq!(decided.decision.as_deref(), Some("approved"));
    assert_eq!(decided.decided_by.as_deref(), Some(APPROVER));
    assert_eq!(decided.comment.as_deref(), Some("change CHG-1"));
    assert_eq!(platform.quota_used(DEV).await, 1, "the approval spends it");
    // Decided once only.
    let twice = platform
        .decide(&approver, "shop", EnvDecision::Reject)
        .await;
    assert_eq!(twice.unwrap_err().kind, ErrorKind::Conflict);

    // The requester's next `up` provisions exactly what was approved.
    let mut other_params = request("shop", "prod");
    other_params.params = serde_json::json!({"node_count": 5});
    let dev = platform.user(DEV).await;
    let changed = platform.service.start_env(&dev, other_params).await;
    assert_eq!(changed.unwrap_err().kind, ErrorKind::Conflict);
    let started = platform
        .service
        .start_env(&dev, request("shop", "prod"))
        .await
        .unwrap();
    assert!(started.created);
    assert_eq!(started.env.status, EnvStatus::Provisioning);
    assert_eq!(platform.quota_used(DEV).await, 1, "counted once");
}

#[tokio::test]
async fn r_gov_2_nobody_approves_their_own_request_not_even_an_admin() {
    let platform = Platform::new().await;
    let operator = platform.operator().await;
    platform
        .service
        .start_env(&operator, request("mine", "prod"))
        .await
        .unwrap();
    let own = platform
        .decide(&operator, "mine", EnvDecision::Approve)
        .await
        .unwrap_err();
    assert_eq!(own.kind, ErrorKind::PermissionDenied);
    assert!(own.message.contains("four eyes"), "{}", own.message);
    let approver = platform.user(APPROVER).await;
    platform
        .decide(&approver, "mine", EnvDecision::Approve)
        .await
        .unwrap();
}

#[tokio::test]
async fn r_gov_2_an_approval_is_checked_against_the_requesters_quota() {
    let platform = Platform::new().await;
    platform.up(DEV, "open", "demo").await.unwrap();
    // The quota is used up, yet asking costs nothing…
    let pending = platform.up(DEV, "shop", "prod").await.unwrap();
    assert_eq!(pending.status, EnvStatus::PendingApproval);
    // …and approving would exceed it: refused, the request still waits.
    let approver = platform.user(APPROVER).await;
    let refused = platform
        .decide(&approver, "shop", EnvDecision::Approve)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::QuotaExceeded);
    let dev = platform.user(DEV).await;
    let still = platform.service.get_env(&dev, "shop").await.unwrap();
    assert_eq!(still.status, EnvStatus::PendingApproval);
    assert_eq!(platform.quota_used(DEV).await, 1);
}

#[tokio::test]
async fn r_gov_2_a_rejection_ends_the_request_shows_why_and_frees_the_name() {
    let platform = Platform::new().await;
    platform.up(DEV, "shop", "prod").await.unwrap();
    let approver = platform.user(APPROVER).await;
    let rejected = platform
        .decide(&approver, "shop", EnvDecision::Reject)
        .await
        .unwrap();
    assert_eq!(rejected.status, EnvStatus::Rejected);
    assert!(rejected.destroyed_at.is_some());
    let dev = platform.user(DEV).await;
    let shown = platform.service.get_env(&dev, "shop").await.unwrap();
    assert_eq!(shown.status, EnvStatus::Rejected);
    assert_eq!(
        shown.approval.unwrap().comment.as_deref(),
        Some("change CHG-1")
    );
    assert_eq!(platform.quota_used(DEV).await, 0);
    // The name is free for a new request.
    let again = platform.up(DEV, "shop", "prod").await.unwrap();
    assert_eq!(again.status, EnvStatus::PendingApproval);
    assert_ne!(again.id, shown.id);
}

#[tokio::test]
async fn r_gov_2_undecided_requests_expire_and_the_reaper_closes_them_without_terraform() {
    let platform = Platform::new().await;
    let pending = platform.up(DEV, "shop", "prod").await.unwrap();
    let deadline = pending.approval.unwrap().expires_at;
    assert_eq!(
        deadline.duration_since(pending.created_at),
        jiff::SignedDuration::from_hours(24)
    );
    let operator = platform.operator().await;
    assert!(
        platform
            .service
            .claim_expired_envs(&operator, 60)
            .await
            .unwrap()
            .is_empty()
    );

    platform.later_by_hours(25);
    let approver = platform.user(APPROVER).await;
    let late = platform
        .decide(&approver, "shop", EnvDecision::Approve)
        .await
        .unwrap_err();
    assert_eq!(late.kind, ErrorKind::NotApproved);
    let closed = platform
        .service
        .claim_expired_envs(&operator, 60)
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].status,
        EnvStatus::Expired,
        "closed, not left to Terraform"
    );
    let approval = closed[0].approval.clone().unwrap();
    assert_eq!(approval.decision.as_deref(), Some("expired"));
    assert_eq!(approval.decided_by, None);
    assert!(
        platform
            .service
            .claim_expired_envs(&operator, 60)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn r_gov_2_an_account_policy_protects_a_template_and_only_its_scope_lifts_it() {
    let platform = Platform::new().await;
    let operator = platform.operator().await;
    let policy = platform
        .service
        .set_env_policy(
            &operator,
            SetEnvPolicy {
                require_approval: vec!["demo".into()],
                envs_per_day: Some(5),
                ..SetEnvPolicy::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(policy.require_approval, vec!["demo".to_owned()]);
    let pending = platform.up(DEV, "guarded", "demo").await.unwrap();
    assert_eq!(pending.status, EnvStatus::PendingApproval);
    assert_eq!(pending.approval.unwrap().required_by, "policy");

    // Unknown templates are refused rather than protecting nothing.
    let typo = platform
        .service
        .set_env_policy(
            &operator,
            SetEnvPolicy {
                require_approval: vec!["dmeo".into()],
                ..SetEnvPolicy::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(typo.kind, ErrorKind::NotFound);

    let lifted = platform
        .service
        .set_env_policy(
            &operator,
            SetEnvPolicy {
                no_require_approval: vec!["demo".into()],
                ..SetEnvPolicy::default()
            },
        )
        .await
        .unwrap();
    assert!(lifted.require_approval.is_empty());
    let open = platform.up(DEV, "open", "demo").await.unwrap();
    assert_eq!(open.status, EnvStatus::Provisioning);
    assert!(open.approval.is_none());
}

#[tokio::test]
async fn r_gov_2_no_run_is_recorded_for_an_env_that_was_not_let_through() {
    let platform = Platform::new().await;
    platform.up(DEV, "shop", "prod").await.unwrap();
    let dev = platform.user(DEV).await;
    let forged = platform
        .service
        .finish_env_up(&dev, "shop", crate::api::EnvOutcome::done())
        .await
        .unwrap_err();
    assert_eq!(forged.kind, ErrorKind::Conflict);
    let approver = platform.user(APPROVER).await;
    platform
        .decide(&approver, "shop", EnvDecision::Approve)
        .await
        .unwrap();
    let early = platform
        .service
        .finish_env_up(&dev, "shop", crate::api::EnvOutcome::done())
        .await
        .unwrap_err();
    assert_eq!(
        early.kind,
        ErrorKind::Conflict,
        "approved is not yet started"
    );
}

#[tokio::test]
async fn r_gov_2_the_platform_sets_how_long_a_request_waits() {
    let mut platform = Platform::new().await;
    platform.service = platform
        .service
        .clone()
        .with_approval_window(super::parse_approval_window("2h").unwrap());
    let pending = platform.up(DEV, "shop", "prod").await.unwrap();
    let deadline = pending.approval.unwrap().expires_at;
    assert_eq!(
        deadline.duration_since(pending.created_at),
        jiff::SignedDuration::from_hours(2)
    );
    for bad in ["30s", "32d", "soon", "-1h"] {
        let refused = super::parse_approval_window(bad).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Invalid, "{bad}");
    }
}
