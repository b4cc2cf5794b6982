//! R-GOV-3 in process: what the trail records, in which transaction, and for whom.

use std::sync::Arc;

use super::*;
use crate::api::{CreateAccount, CreateGroup};
use crate::service::{Bootstrap, Identity};
use crate::store::Store;

const ADMIN: &str = "admin@example.com";
const BOB: &str = "bob@acme.example";

async fn service_at(dir: &std::path::Path, now: Timestamp) -> Service {
    let url = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
    let store = Store::open(&url, 4).await.unwrap();
    let service = Service::new(store, Arc::new(move || now.as_jiff()));
    service
        .bootstrap(&Bootstrap {
            master_account: "platform".into(),
            admin_email: ADMIN.into(),
            default_tenant_domain: "localhost".into(),
        })
        .await
        .unwrap();
    service
}

async fn actor(service: &Service, identity: Identity, account: Option<&str>) -> Actor {
    let actor = service
        .resolve_actor(&identity, account, None)
        .await
        .unwrap();
    Arc::unwrap_or_clone(actor).with_origin(Origin::new("cli"))
}

fn acme() -> CreateAccount {
    CreateAccount {
        slug: "acme".into(),
        owner: BOB.into(),
        roles: vec!["user-admin".into()],
        ..CreateAccount::default()
    }
}

fn everything() -> AuditQuery {
    AuditQuery::default()
}

fn now() -> Timestamp {
    "2026-12-05T12:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn r_gov_3_a_write_is_recorded_with_actor_account_action_and_request() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    service.create_account(&admin, acme()).await.unwrap();

    let page = service.list_audit(&admin, &everything()).await.unwrap();
    assert_eq!(page.events.len(), 1, "{page:?}");
    let event = &page.events[0];
    assert_eq!(event.actor, ADMIN);
    assert_eq!(event.account, "platform");
    assert_eq!(event.action, "account.create");
    assert_eq!(event.target, "acme");
    assert_eq!(event.outcome, AuditOutcome::Ok);
    assert_eq!(event.error_code, None);
    assert_eq!(event.at.to_string(), "2026-12-05T12:00:00Z");
    assert_eq!(event.request_id, admin.origin.request_id);
    assert_eq!(event.source, "cli");
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn r_gov_3_a_refusal_is_recorded_with_its_code_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    service.create_account(&admin, acme()).await.unwrap();
    let bob = actor(&service, Identity::Email(BOB.into()), None).await;

    // acme holds no `account-admin` role (R-ROLE-1).
    let child = CreateAccount {
        slug: "acme-child".into(),
        owner: BOB.into(),
        ..CreateAccount::default()
    };
    let refused = service.create_account(&bob, child).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::PermissionDenied);

    let refusals = AuditQuery {
        outcome: Some(AuditOutcome::Refused),
        ..AuditQuery::default()
    };
    let page = service.list_audit(&admin, &refusals).await.unwrap();
    assert_eq!(page.events.len(), 1, "{page:?}");
    let event = &page.events[0];
    assert_eq!(
        (event.actor.as_str(), event.account.as_str()),
        (BOB, "acme")
    );
    assert_eq!(
        (event.action.as_str(), event.target.as_str()),
        ("account.create", "acme-child")
    );
    assert_eq!(event.error_code.as_deref(), Some("permission_denied"));
    let mut conn = service.store().acquire().await.unwrap();
    assert!(
        store::find_account_by_slug(&mut conn, "acme-child")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn r_gov_3_a_failed_write_leaves_no_record_of_success() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    service.create_account(&admin, acme()).await.unwrap();
    // Refused by the database after the group rows were written: the whole transaction,
    // record included, rolls back.
    let taken = service.create_account(&admin, acme()).await.unwrap_err();
    assert_eq!(taken.kind, ErrorKind::Conflict);
    let group = CreateGroup {
        name: "admins".into(),
        permissions: vec!["envs:read".into()],
    };
    service.create_group(&admin, group).await.unwrap_err();

    let page = service.list_audit(&admin, &everything()).await.unwrap();
    let actions: Vec<_> = page.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["account.create"], "{page:?}");
}

#[tokio::test]
async fn r_gov_3_r_acc_6_an_account_reads_its_own_records_never_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    service.create_account(&admin, acme()).await.unwrap();
    let bob = actor(&service, Identity::Email(BOB.into()), None).await;
    let group = CreateGroup {
        name: "ops".into(),
        permissions: vec!["envs:read".into()],
    };
    service.create_group(&bob, group).await.unwrap();

    let seen = service.list_audit(&bob, &everything()).await.unwrap();
    let actions: Vec<_> = seen.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["group.create"], "{seen:?}");
    assert!(seen.events.iter().all(|e| e.account == "acme"));

    let parent = service.list_audit(&admin, &everything()).await.unwrap();
    assert_eq!(
        parent.events.len(),
        2,
        "the parent sees its subtree: {parent:?}"
    );

    // A developer of acme (no `*`) may not read the trail at all.
    let viewers = service.get_group(&bob, "viewers").await.unwrap();
    assert!(!viewers.permissions.iter().any(|p| p == "audit:read"));
}

#[tokio::test]
async fn r_gov_3_filters_and_cursor_pages() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    for n in 0..5 {
        let group = CreateGroup {
            name: format!("team-{n}"),
            permissions: vec!["envs:read".into()],
        };
        service.create_group(&admin, group).await.unwrap();
    }
    service.create_account(&admin, acme()).await.unwrap();

    let groups = AuditQuery {
        action: Some("group.create".into()),
        limit: Some(2),
        ..AuditQuery::default()
    };
    let mut targets = Vec::new();
    let mut query = groups.clone();
    loop {
        let page = service.list_audit(&admin, &query).await.unwrap();
        assert!(page.events.len() <= 2);
        targets.extend(page.events.into_iter().map(|e| e.target));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(targets, ["team-4", "team-3", "team-2", "team-1", "team-0"]);

    let by_actor = AuditQuery {
        actor: Some("nobody@example.com".into()),
        ..AuditQuery::default()
    };
    assert!(
        service
            .list_audit(&admin, &by_actor)
            .await
            .unwrap()
            .events
            .is_empty()
    );
    let future = AuditQuery {
        since: Some("2026-12-06T00:00:00Z".into()),
        ..AuditQuery::default()
    };
    assert!(
        service
            .list_audit(&admin, &future)
            .await
            .unwrap()
            .events
            .is_empty()
    );
    let recent = AuditQuery {
        since: Some("1h".into()),
        ..AuditQuery::default()
    };
    assert_eq!(
        service
            .list_audit(&admin, &recent)
            .await
            .unwrap()
            .events
            .len(),
        6
    );

    for bad in [
        AuditQuery {
            since: Some("yesterday-ish".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            cursor: Some("not-a-cursor".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            limit: Some(0),
            ..AuditQuery::default()
        },
    ] {
        let err = service.list_audit(&admin, &bad).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{bad:?}");
    }
}

#[tokio::test]
async fn r_gov_3_records_cannot_be_changed_and_only_the_prune_removes_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    service.create_account(&admin, acme()).await.unwrap();

    let mut conn = service.store().acquire().await.unwrap();
    for statement in [
        "UPDATE audit_events SET actor = 'someone-else'",
        "DELETE FROM audit_events",
    ] {
        let refused = sqlx::query(statement).execute(&mut *conn).await;
        assert!(refused.is_err(), "{statement} went through");
    }
    drop(conn);

    // Nothing is old enough yet: the prune removes nothing and records nothing.
    assert_eq!(
        service
            .prune_audit(SignedDuration::from_hours(24))
            .await
            .unwrap(),
        0
    );
    let later = service_at(
        dir.path(),
        now().checked_add(SignedDuration::from_hours(72)).unwrap(),
    )
    .await;
    let admin = actor(&later, Identity::Operator, None).await;
    let group = CreateGroup {
        name: "fresh".into(),
        permissions: vec!["envs:read".into()],
    };
    later.create_group(&admin, group).await.unwrap();
    assert_eq!(
        later
            .prune_audit(SignedDuration::from_hours(48))
            .await
            .unwrap(),
        1
    );
    let page = later.list_audit(&admin, &everything()).await.unwrap();
    let actions: Vec<_> = page.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["audit.prune", "group.create"], "{page:?}");
    assert!(page.events[0].target.starts_with("1 records before "));

    let too_short = later.prune_audit(SignedDuration::from_hours(1)).await;
    assert_eq!(too_short.unwrap_err().kind, ErrorKind::Invalid);
}

#[test]
fn ages_read_as_periods() {
    assert_eq!(
        vocabulary::parse_age("24h").unwrap(),
        SignedDuration::from_hours(24)
    );
    assert_eq!(
        vocabulary::parse_age("365d").unwrap(),
        SignedDuration::from_hours(365 * 24)
    );
    for bad in ["", "0s", "-1h", "soon", "1 month"] {
        assert!(vocabulary::parse_age(bad).is_err(), "{bad}");
    }
}

/// The record is part of the write's transaction: a write that fails after writing rows leaves
/// neither its rows nor an `ok` record, and a refusal leaves only the refusal.
#[tokio::test]
async fn r_gov_3_the_record_and_the_write_share_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let service = service_at(dir.path(), now()).await;
    let admin = actor(&service, Identity::Operator, None).await;
    let group = |name: &str| crate::store::GroupRow {
        id: store::new_id(),
        account_id: admin.account.id.clone(),
        name: name.into(),
        permissions: vec!["envs:read".into()],
        builtin: false,
        created_at: now(),
    };

    let written = group("written");
    service
        .audited(
            &admin,
            AuditAction::GroupCreate,
            "written",
            async |tx: &mut Conn| Ok(store::insert_group(tx, &written).await?),
        )
        .await
        .unwrap();
    let failing = group("rolled-back");
    let refused = service
        .audited(
            &admin,
            AuditAction::GroupCreate,
            "rolled-back",
            async |tx: &mut Conn| {
                store::insert_group(tx, &failing).await?;
                Err::<(), _>(Error::quota("over the limit after writing"))
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::QuotaExceeded);

    let mut conn = service.store().acquire().await.unwrap();
    let account = &admin.account.id;
    assert!(
        store::find_group(&mut conn, account, "written")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store::find_group(&mut conn, account, "rolled-back")
            .await
            .unwrap()
            .is_none()
    );
    let page = service.list_audit(&admin, &everything()).await.unwrap();
    let outcomes: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.target.as_str(), e.outcome, e.error_code.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("rolled-back", AuditOutcome::Refused, Some("quota_exceeded")),
            ("written", AuditOutcome::Ok, None),
        ]
    );
}
