use std::collections::BTreeMap;

use super::*;
use crate::api::CreateGroup;
use crate::service::ErrorKind;
use crate::service::test_support::{ALICE, CAROL, GINA, acme_and_globex, as_user};
const ISSUER: &str = GITHUB_ACTIONS_ISSUER;

fn claims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A GitHub Actions job's token, as the server hands it to the service once verified.
fn job(repository: &str, git_ref: &str) -> Identity {
    Identity::Federated {
        issuer: ISSUER.into(),
        audiences: vec!["plat".into()],
        claims: claims(&[
            ("sub", &format!("repo:{repository}:ref:{git_ref}")),
            ("repository", repository),
            (
                "repository_owner",
                repository.split('/').next().unwrap_or(""),
            ),
            ("ref", git_ref),
            ("run_id", "42"),
        ]),
    }
}

fn rule(name: &str, pairs: &[(&str, &str)], group: &str) -> CreateTrustRule {
    CreateTrustRule {
        name: name.into(),
        issuer: ISSUER.into(),
        audience: "plat".into(),
        claims: claims(pairs),
        group: group.into(),
    }
}

/// acme and globex (see `acme_and_globex`); acme's `deployers` may read and write envs,
/// globex's `deployers` may do everything.
async fn platform(dir: &std::path::Path) -> Service {
    let service = acme_and_globex(dir).await;
    for (owner, permissions) in [
        (ALICE, vec!["envs:read", "envs:write"]),
        (GINA, vec!["accounts:read", "groups:write", "users:write"]),
    ] {
        let admin = as_user(&service, owner).await;
        let group = CreateGroup {
            name: "deployers".into(),
            permissions: permissions.into_iter().map(str::to_owned).collect(),
        };
        service.create_group(&admin, group).await.unwrap();
    }
    service
}

#[test]
fn r_gov_5_claims_match_exactly_or_by_a_final_star() {
    assert!(claim_matches("acme/shop", "acme/shop"));
    assert!(!claim_matches("acme/shop", "acme/shop2"));
    assert!(!claim_matches("acme/shop", "Acme/shop"));
    assert!(claim_matches(
        "refs/heads/release/*",
        "refs/heads/release/1.2"
    ));
    assert!(!claim_matches("refs/heads/release/*", "refs/heads/main"));
    let rule = claims(&[
        ("repository", "acme/shop"),
        ("ref", "refs/heads/main"),
        ("environment", "prod"),
    ]);
    let token = claims(&[("repository", "acme/shop"), ("ref", "refs/heads/dev")]);
    assert_eq!(unmatched_claims(&rule, &token), ["environment", "ref"]);
}

#[test]
fn r_gov_5_rules_that_could_never_match_or_match_too_widely_are_refused() {
    let good = rule("ci-shop", &[("repository", "acme/shop")], "deployers");
    assert!(check_rule(&good).is_ok());
    let cases: Vec<(CreateTrustRule, &str)> = vec![
        (
            CreateTrustRule {
                issuer: "not a url".into(),
                ..good.clone()
            },
            "invalid issuer",
        ),
        (
            CreateTrustRule {
                issuer: "http://token.example.com".into(),
                ..good.clone()
            },
            "invalid issuer",
        ),
        (
            CreateTrustRule {
                issuer: "https://idp.test/?x=1".into(),
                ..good.clone()
            },
            "invalid issuer",
        ),
        (
            CreateTrustRule {
                audience: "".into(),
                ..good.clone()
            },
            "invalid audience",
        ),
        (
            CreateTrustRule {
                audience: "a b".into(),
                ..good.clone()
            },
            "invalid audience",
        ),
        (
            CreateTrustRule {
                name: "CI Shop".into(),
                ..good.clone()
            },
            "invalid trust rule name",
        ),
        (rule("ci", &[], "deployers"), "at least one claim"),
        (
            rule("ci", &[("ref", "refs/heads/main")], "deployers"),
            "must pin the repository",
        ),
        (
            rule("ci", &[("repository", "*")], "deployers"),
            "invalid value",
        ),
        (
            rule("ci", &[("repository", "acme/*/x")], "deployers"),
            "invalid value",
        ),
        (
            rule(
                "ci",
                &[("repository", "acme/shop"), ("aud", "plat")],
                "deployers",
            ),
            "cannot be matched",
        ),
        (
            rule(
                "ci",
                &[("repository", "acme/shop"), ("bad name", "x")],
                "deployers",
            ),
            "invalid claim name",
        ),
    ];
    for (request, message) in cases {
        let err = check_rule(&request).err();
        assert_eq!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::Invalid),
            "{request:?}"
        );
        let text = err.map(|e| e.message).unwrap_or_default();
        assert!(text.contains(message), "{text} / {message}");
    }
    // Loopback IdPs may use http (tests, local development); other issuers need no repository.
    let local = CreateTrustRule {
        issuer: "http://127.0.0.1:8080/".into(),
        claims: claims(&[("environment", "prod")]),
        ..good
    };
    assert_eq!(
        check_rule(&local).ok().as_deref(),
        Some("http://127.0.0.1:8080")
    );
}

#[tokio::test]
async fn r_gov_5_a_matching_token_acts_with_the_rules_group_only_and_in_its_account_only() {
    let dir = tempfile::tempdir().unwrap();
    let service = platform(dir.path()).await;
    let alice = as_user(&service, ALICE).await;
    let added = service
        .add_trust_rule(
            &alice,
            rule(
                "ci-shop",
                &[("repository", "acme/shop"), ("ref", "refs/heads/main")],
                "deployers",
            ),
        )
        .await
        .unwrap();
    assert_eq!(added.identity, "ci-shop@acme.trust.invalid");
    assert_eq!(service.trusted_audiences(ISSUER).await.unwrap(), ["plat"]);

    let token = job("acme/shop", "refs/heads/main");
    let actor = service.resolve_actor(&token, None, None).await.unwrap();
    assert_eq!(actor.account.slug, "acme");
    assert_eq!(actor.user.email, "ci-shop@acme.trust.invalid");
    assert_eq!(actor.permissions, ["envs:read", "envs:write"]);
    assert!(actor.can(Permission::EnvsWrite));
    assert!(!actor.can(Permission::UsersWrite));
    // Never another account, not even one whose group of the same name grants more (R-SEC-2).
    let elsewhere = service.resolve_actor(&token, Some("globex"), None).await;
    assert_eq!(elsewhere.err().map(|e| e.kind), Some(ErrorKind::NotFound));
    let itself = service
        .resolve_actor(&token, Some("acme"), None)
        .await
        .unwrap();
    assert_eq!(itself.account.slug, "acme");

    // A group change applies from the next request; deleting the rule ends the trust.
    let deployers = crate::api::UpdateGroup {
        add_permissions: vec!["accounts:read".into()],
        remove_permissions: vec!["envs:write".into()],
    };
    service
        .update_group(&alice, "deployers", deployers)
        .await
        .unwrap();
    let actor = service.resolve_actor(&token, None, None).await.unwrap();
    assert_eq!(actor.permissions, ["accounts:read", "envs:read"]);
    let refused = service.delete_group(&alice, "deployers").await;
    assert_eq!(refused.err().map(|e| e.kind), Some(ErrorKind::Conflict));
    service.delete_trust_rule(&alice, "ci-shop").await.unwrap();
    let gone = service.resolve_actor(&token, None, None).await;
    assert_eq!(gone.err().map(|e| e.kind), Some(ErrorKind::Unauthenticated));
}

#[tokio::test]
async fn r_gov_5_a_token_matching_no_rule_is_told_which_claims_failed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let service = platform(dir.path()).await;
    let alice = as_user(&service, ALICE).await;
    let gina = as_user(&service, GINA).await;
    service
        .add_trust_rule(
            &alice,
            rule(
                "ci-shop",
                &[("repository", "acme/shop"), ("ref", "refs/heads/main")],
                "deployers",
            ),
        )
        .await
        .unwrap();
    service
        .add_trust_rule(
            &gina,
            rule(
                "ci-secret",
                &[("repository", "globex/secret-repo")],
                "deployers",
            ),
        )
        .await
        .unwrap();
    for (token, claim) in [
        (
            job("acme/other", "refs/heads/main"),
            "repository ('acme/other')",
        ),
        (job("acme/shop", "refs/heads/dev"), "ref ('refs/heads/dev')"),
    ] {
        let err = service.resolve_actor(&token, None, None).await.err();
        assert_eq!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::Unauthenticated)
        );
        let message = err
            .map(|e| format!("{} {}", e.message, e.hint.unwrap_or_default()))
            .unwrap_or_default();
        assert!(message.contains(claim), "{message}");
        for secret in [
            "globex",
            "secret-repo",
            "acme/shop'",
            "refs/heads/main",
            "ci-shop",
        ] {
            assert!(!message.contains(secret), "{secret} leaked: {message}");
        }
    }
    // The wrong audience matches nothing either.
    let Identity::Federated { issuer, claims, .. } = job("acme/shop", "refs/heads/main") else {
        return;
    };
    let other_audience = Identity::Federated {
        issuer,
        audiences: vec!["sts.amazonaws.com".into()],
        claims,
    };
    let err = service
        .resolve_actor(&other_audience, None, None)
        .await
        .err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Unauthenticated));
}

#[tokio::test]
async fn r_gov_5_only_an_account_admin_manages_trust_and_bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = platform(dir.path()).await;
    let alice = as_user(&service, ALICE).await;
    let carol = as_user(&service, CAROL).await;
    let good = rule("ci-shop", &[("repository", "acme/shop")], "deployers");
    let err = service.add_trust_rule(&carol, good.clone()).await.err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::PermissionDenied));
    let err = service.list_trust_rules(&carol).await.err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::PermissionDenied));
    let err = service
        .add_trust_rule(
            &alice,
            CreateTrustRule {
                group: "ghosts".into(),
                ..good.clone()
            },
        )
        .await
        .err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NotFound));
    assert!(service.list_trust_rules(&alice).await.unwrap().is_empty());
    service.add_trust_rule(&alice, good.clone()).await.unwrap();
    let err = service.add_trust_rule(&alice, good).await.err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Conflict));
    let err = service.delete_trust_rule(&carol, "ci-shop").await.err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::PermissionDenied));
    let err = service.delete_trust_rule(&alice, "ghost").await.err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NotFound));
    assert_eq!(service.list_trust_rules(&alice).await.unwrap().len(), 1);
}
