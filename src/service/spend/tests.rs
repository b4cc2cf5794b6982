//! R-ACC-5 / R-GOV-4 in process: the built-in demo template (44.50 a day with 2 nodes), a clock
//! the tests move, and an account tree platform → team → squad on SQLite.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::api::{CreateAccount, CreateEnv, EnvOutcome, SetEnvPolicy};
use crate::service::{Actor, ErrorKind, Identity, Service};
use crate::store::Store;

struct Platform {
    service: Service,
    now: Arc<Mutex<Timestamp>>,
    _dir: tempfile::TempDir,
}

impl Platform {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = Store::open(&url, 1).await.unwrap();
        let now = Arc::new(Mutex::new("2026-12-10T00:00:00Z".parse().unwrap()));
        let shared = now.clone();
        let templates = crate::iac::TemplateCatalog::discover(&[std::path::PathBuf::from(
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates/env"),
        )])
        .unwrap();
        let service = Service::new(store, Arc::new(move || *shared.lock().unwrap()))
            .with_env_templates(Arc::new(templates))
            .with_currency("EUR");
        service
            .bootstrap(&crate::service::test_support::bootstrap())
            .await
            .unwrap();
        let platform = Self {
            service,
            now,
            _dir: dir,
        };
        let root = platform.actor("platform").await;
        // Every env here is the operator's: lift the daily quota (R-ENV-3) out of the way.
        platform
            .service
            .set_env_policy(
                &root,
                SetEnvPolicy {
                    envs_per_day: Some(100),
                    ..SetEnvPolicy::default()
                },
            )
            .await
            .unwrap();
        platform
            .sub_account(&root, "team", &["account-admin", "subaccount-admin"])
            .await;
        let team = platform.actor("team").await;
        platform.sub_account(&team, "squad", &[]).await;
        platform
    }

    async fn sub_account(&self, parent: &Actor, slug: &str, roles: &[&str]) {
        self.service
            .create_account(
                parent,
                CreateAccount {
                    slug: slug.into(),
                    name: None,
                    owner: format!("owner@{slug}.test"),
                    owner_name: None,
                    tenant: None,
                    roles: roles.iter().map(|role| (*role).to_owned()).collect(),
                },
            )
            .await
            .unwrap();
    }

    async fn actor(&self, account: &str) -> Actor {
        let actor = self
            .service
            .resolve_actor(&Identity::Operator, Some(account), None)
            .await
            .unwrap();
        Actor::clone(&actor)
    }

    fn advance(&self, hours: i64) {
        let mut now = self.now.lock().unwrap();
        *now = now.checked_add(SignedDuration::from_hours(hours)).unwrap();
    }

    async fn up(&self, actor: &Actor, name: &str, ttl_hours: i64) -> crate::service::Result<()> {
        self.service
            .start_env(
                actor,
                CreateEnv {
                    name: name.into(),
                    template: "demo".into(),
                    params: serde_json::json!({"node_count": 2, "argocd_ha": false}),
                    ttl_seconds: Some(ttl_hours * 3600),
                    idempotency_key: None,
                },
            )
            .await?;
        Ok(())
    }

    async fn down(&self, actor: &Actor, name: &str) {
        self.service.start_env_down(actor, name).await.unwrap();
        self.service
            .finish_env_down(actor, name, EnvOutcome::done())
            .await
            .unwrap();
    }

    async fn budget(&self, actor: &Actor, amount: f64) {
        self.service
            .set_env_policy(
                actor,
                SetEnvPolicy {
                    budget_monthly: Some(amount),
                    ..SetEnvPolicy::default()
                },
            )
            .await
            .unwrap();
    }

    async fn total(&self, actor: &Actor) -> f64 {
        self.service.spend(actor, None, None).await.unwrap().total
    }
}

#[tokio::test]
async fn r_gov_4_the_estimate_is_the_templates_cost_for_the_envs_lifetime() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.up(&team, "preview", 4).await.unwrap();
    let cost = platform
        .service
        .get_env(&team, "preview")
        .await
        .unwrap()
        .cost
        .unwrap();
    assert_eq!(cost.currency, "EUR");
    // 2 nodes × 12.50 + 18 + 0.50 + 1 (Argo CD without HA).
    assert_eq!(cost.daily, 44.5);
    assert_eq!(cost.lifetime, 7.42);
    assert_eq!(cost.accrued, 0.0);
    // Started this very second, it is listed already.
    let report = platform.service.spend(&team, None, None).await.unwrap();
    assert_eq!(report.lines.len(), 1, "{report:?}");
    assert_eq!((report.lines[0].envs, report.total), (1, 0.0));
}

#[tokio::test]
async fn r_acc_5_an_env_accrues_its_daily_cost_from_creation_to_destruction() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.up(&team, "preview", 4).await.unwrap();
    platform.advance(12);
    assert_eq!(platform.total(&team).await, 22.25, "half a day while alive");
    platform.down(&team, "preview").await;
    platform.advance(48);
    assert_eq!(platform.total(&team).await, 22.25, "nothing once destroyed");
}

#[tokio::test]
async fn r_gov_4_a_budget_refuses_env_up_before_anything_is_recorded() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.budget(&team, 5.0).await;
    let refused = platform.up(&team, "preview", 4).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::QuotaExceeded, "{refused:?}");
    assert!(refused.message.contains("7.42 EUR"), "{}", refused.message);
    let envs = platform.service.list_envs(&team, true).await.unwrap();
    assert!(envs.is_empty(), "{envs:?}");
    assert_eq!(platform.total(&team).await, 0.0);
    // A shorter lifetime fits (1 h = 1.85).
    platform.up(&team, "preview", 1).await.unwrap();
}

#[tokio::test]
async fn r_gov_4_a_parents_budget_covers_its_subtree_and_stays_unnamed() {
    let platform = Platform::new().await;
    let root = platform.actor("platform").await;
    let team = platform.actor("team").await;
    let squad = platform.actor("squad").await;
    platform.budget(&root, 10.0).await;
    platform.up(&team, "one", 4).await.unwrap();
    platform.advance(24);
    // 44.50 accrued by `one` this month: the squad, two levels down, is refused by the root's budget.
    let refused = platform.up(&squad, "two", 1).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::QuotaExceeded);
    assert!(!refused.message.contains("platform"), "{}", refused.message);
    assert!(refused.message.contains("set above"), "{}", refused.message);
    assert!(
        platform
            .service
            .list_envs(&squad, true)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn r_gov_4_an_extension_that_would_exceed_the_budget_changes_nothing() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.budget(&team, 3.0).await;
    platform.up(&team, "preview", 1).await.unwrap();
    let before = platform.service.get_env(&team, "preview").await.unwrap();
    let refused = platform
        .service
        .extend_env(&team, "preview", 3 * 3600)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::QuotaExceeded);
    let after = platform.service.get_env(&team, "preview").await.unwrap();
    assert_eq!(before.expires_at, after.expires_at);
    // Two hours more (3.71) do not fit; half an hour more (0.93) does.
    platform
        .service
        .extend_env(&team, "preview", 90 * 60)
        .await
        .unwrap();
}

#[tokio::test]
async fn r_acc_5_an_account_sees_its_subtrees_spend_never_its_parents() {
    let platform = Platform::new().await;
    let root = platform.actor("platform").await;
    let team = platform.actor("team").await;
    let squad = platform.actor("squad").await;
    platform.up(&root, "root-env", 1).await.unwrap();
    platform.up(&team, "team-env", 1).await.unwrap();
    platform.up(&squad, "squad-env", 1).await.unwrap();
    platform.advance(24);
    let keys = |report: crate::api::SpendReport| {
        report
            .lines
            .into_iter()
            .map(|line| (line.key, line.cost))
            .collect::<Vec<_>>()
    };
    let seen_by_team = keys(platform.service.spend(&team, None, None).await.unwrap());
    assert_eq!(
        seen_by_team,
        vec![("squad".to_owned(), 44.5), ("team".to_owned(), 44.5)]
    );
    let seen_by_squad = keys(platform.service.spend(&squad, None, None).await.unwrap());
    assert_eq!(seen_by_squad, vec![("squad".to_owned(), 44.5)]);
    assert_eq!(platform.total(&root).await, 133.5);
}

#[tokio::test]
async fn r_acc_5_spend_by_tenant_template_owner_and_label() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.up(&team, "preview", 1).await.unwrap();
    platform.advance(24);
    for (by, key) in [
        ("tenant", "default"),
        ("template", "demo"),
        ("owner", "operator@localhost"),
        ("label:appgear.io/suite", "demo"),
        ("label:appgear.io/workspace-id", "preview"),
        ("label:no-such-label", ""),
    ] {
        let report = platform.service.spend(&team, Some(by), None).await.unwrap();
        assert_eq!(report.lines.len(), 1, "{by}: {report:?}");
        assert_eq!(report.lines[0].key, key, "{by}");
        assert_eq!(report.lines[0].cost, 44.5, "{by}");
        assert_eq!(report.lines[0].env_days, 1.0, "{by}");
    }
}

#[tokio::test]
async fn r_acc_5_a_month_holds_only_what_was_spent_in_it() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    platform.up(&team, "preview", 1).await.unwrap();
    // From 2026-12-10 to 2027-01-01: 22 days in December, then 2 in January.
    platform.advance(24 * 24);
    let december = platform
        .service
        .spend(&team, None, Some("2026-12"))
        .await
        .unwrap();
    assert_eq!(december.total, 22.0 * 44.5);
    assert_eq!(december.until.to_string(), "2027-01-01T00:00:00Z");
    let january = platform.service.spend(&team, None, None).await.unwrap();
    assert_eq!(january.month, "2027-01");
    assert_eq!(january.total, 2.0 * 44.5);
    let before = platform
        .service
        .spend(&team, None, Some("2026-11"))
        .await
        .unwrap();
    assert!(before.lines.is_empty());
}

#[tokio::test]
async fn bad_spend_and_budget_input_is_refused_clearly() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    for (by, month) in [
        ("owners", None),
        ("label:", None),
        ("label:a b", None),
        ("account", Some("2026-13")),
        ("account", Some("12-2026")),
        ("account", Some("2026-1")),
    ] {
        let err = platform
            .service
            .spend(&team, Some(by), month)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{by} {month:?}");
        assert!(err.hint.is_some(), "{by} {month:?}");
    }
    for amount in [-1.0, f64::NAN, f64::INFINITY, 2e9] {
        let err = platform
            .service
            .set_env_policy(
                &team,
                SetEnvPolicy {
                    budget_monthly: Some(amount),
                    ..SetEnvPolicy::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{amount}");
    }
    assert_eq!(
        platform
            .service
            .env_policy(&team)
            .await
            .unwrap()
            .budget_monthly,
        None
    );
}

#[tokio::test]
async fn r_gov_4_the_cost_is_of_the_parameters_as_the_platforms_template_resolves_them() {
    let platform = Platform::new().await;
    let team = platform.actor("team").await;
    let up = |name: &str, params: serde_json::Value| CreateEnv {
        name: name.into(),
        template: "demo".into(),
        params,
        ttl_seconds: Some(3600),
        idempotency_key: None,
    };
    // A client that leaves a parameter out pays for the template's default (2 nodes).
    let started = platform
        .service
        .start_env(&team, up("defaults", serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(started.env.cost.unwrap().daily, 44.5);
    // One that sends what the template forbids (0 nodes, min 1) is refused, nothing recorded.
    let refused = platform
        .service
        .start_env(&team, up("cheap", serde_json::json!({"node_count": 0})))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Invalid, "{refused:?}");
    assert!(
        refused.message.contains("node_count"),
        "{}",
        refused.message
    );
    let names: Vec<String> = platform
        .service
        .list_envs(&team, true)
        .await
        .unwrap()
        .into_iter()
        .map(|env| env.name)
        .collect();
    assert_eq!(names, vec!["defaults"]);
}
