//! R-GOV-3: every write and every refusal lands in an append-only audit trail, in the write's
//! transaction and without secrets. An account reads its own records and its sub-accounts',
//! never its parent's (R-ACC-6/7).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::services::{Server, idp};
use crate::support::{ALICE, BOB, Backend, TestEnv, with_backend};

const OPERATOR: &str = "operator@localhost";

/// The records `user` reads with `args` added to `plat audit list -o json`.
fn trail(env: &TestEnv, user: Option<&str>, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "list", "-o", "json"];
    all.extend_from_slice(args);
    let out = match user {
        Some(user) => env.ok_as(user, &all),
        None => env.ok(&all),
    };
    out.json().as_array().cloned().unwrap_or_default()
}

fn find<'a>(events: &'a [Value], action: &str, target: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["action"] == action && e["target"] == target)
}

on_every_backend! {
    fn r_gov_3_writes_and_refusals_are_recorded_with_actor_account_action_and_outcome() {
        let env = TestEnv::new();
        env.acme();
        // acme-shop holds no `account-admin` role: bob is refused (R-ROLE-1), and that is recorded.
        env.refused(Some(BOB), &["account", "create", "shop-child", "--owner", "x@shop.test"], 5);

        let events = trail(&env, None, &[]);
        let created = find(&events, "account.create", "acme").expect("account.create acme");
        assert_eq!(created["actor"], OPERATOR, "{created}");
        assert_eq!(created["account"], "platform");
        assert_eq!(created["outcome"], "ok");
        assert_eq!(created["error_code"], Value::Null);
        assert!(created["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{created}");
        let source = created["source"].as_str().unwrap();
        match env.backend {
            Backend::Embedded => assert_eq!(source, "cli"),
            _ => assert_eq!(source, "server 127.0.0.1"),
        }
        let tenant = find(&events, "tenant.create", "acme-portal").expect("tenant.create");
        assert_eq!((&tenant["actor"], &tenant["account"]), (&ALICE.into(), &"acme".into()));
        if env.backend != Backend::Embedded {
            assert!(tenant["actor_issuer"].as_str().is_some_and(|i| i.starts_with("http")), "{tenant}");
        }

        let refused = find(&events, "account.create", "shop-child").expect("the refusal");
        assert_eq!(refused["actor"], BOB);
        assert_eq!(refused["account"], "acme-shop");
        assert_eq!(refused["outcome"], "refused");
        assert_eq!(refused["error_code"], "permission_denied");

        // Filters.
        let refusals = trail(&env, None, &["--outcome", "refused"]);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        let by_alice = trail(&env, None, &["--actor", ALICE]);
        assert!(!by_alice.is_empty() && by_alice.iter().all(|e| e["actor"] == ALICE), "{by_alice:?}");
        let tenants = trail(&env, None, &["--action", "tenant.create"]);
        assert_eq!(tenants.len(), 1, "{tenants:?}");
        assert_eq!(trail(&env, None, &["--since", "1h"]).len(), events.len());
        assert_eq!(trail(&env, None, &["--limit", "2"]).len(), 2);
        let newest_first: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        let mut sorted = newest_first.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(newest_first, sorted);

        // The table a person reads.
        let table = env.ok(&["audit", "list", "--outcome", "refused"]);
        assert!(table.stdout.starts_with("TIME"), "{}", table.stdout);
        assert!(table.stdout.contains("refused: permission_denied"), "{}", table.stdout);
    }

    fn r_gov_3_r_acc_6_a_child_admin_never_reads_the_parents_records() {
        let env = TestEnv::new();
        env.acme();
        let alice = trail(&env, Some(ALICE), &[]);
        assert!(find(&alice, "account.create", "acme-shop").is_some(), "{alice:?}");
        assert!(alice.iter().all(|e| e["account"] == "acme" || e["account"] == "acme-shop"), "{alice:?}");
        // The master account created acme: that record is the parent's, not acme's.
        assert!(find(&alice, "account.create", "acme").is_none(), "{alice:?}");
        let text = serde_json::to_string(&alice).unwrap();
        assert!(!text.contains("\"platform\""), "{text}");

        let bob = trail(&env, Some(BOB), &[]);
        assert!(bob.iter().all(|e| e["account"] == "acme-shop"), "{bob:?}");
        assert!(find(&bob, "account.create", "acme-shop").is_none(), "{bob:?}");

        // Reading the trail takes `audit:read`: admins (`*`) have it, viewers do not.
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--group", "viewers"]);
        let viewer = env.refused(Some("carol@acme.test"), &["audit", "list"], 5);
        assert!(viewer.stderr.contains("audit:read"), "{}", viewer.stderr);
    }

    fn r_gov_3_a_failed_write_leaves_no_record_and_no_secret_reaches_the_trail() {
        let env = TestEnv::new();
        env.acme();
        let before = trail(&env, None, &[]).len();
        // Taken slug: the write fails (exit 1, not a refusal) and leaves no `ok` record.
        env.refused(None, &["account", "create", "acme", "--owner", "x@acme.test"], 1);
        assert_eq!(trail(&env, None, &[]).len(), before);

        let definition = env.root().join("secretive.yaml");
        std::fs::write(
            &definition,
            "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: secretive }\nspec:\n  parameters:\n    - { name: password, type: string }\n  steps:\n    - id: use\n      action: exec\n      input: { command: [\"true\"] }\n",
        )
        .unwrap();
        env.ok(&["automation", "apply", "-f", definition.to_str().unwrap()]);
        env.ok(&["automation", "run", "secretive", "--param", "password=hunter2-s3cret"]);
        let events = trail(&env, None, &[]);
        assert!(find(&events, "automation.run", "secretive").is_some(), "{events:?}");
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains("hunter2-s3cret"), "{text}");
    }

    fn r_gov_3_bad_filters_are_usage_errors() {
        let env = TestEnv::new();
        for (args, says) in [
            (&["--since", "yesterday"][..], "--since"),
            (&["--since=-2h"][..], "--since"),
            (&["--outcome", "maybe"][..], "--outcome"),
            (&["--limit", "0"][..], "--limit"),
            // Issue 14: actions are a closed vocabulary, so a typo is not an empty page.
            (&["--action", "env.upp"][..], "env.up.report"),
        ] {
            let mut all = vec!["audit", "list"];
            all.extend_from_slice(args);
            let out = env.run(&all);
            out.failure(2);
            assert!(out.stderr.contains(says) && out.stdout.is_empty(), "{}", out.transcript());
        }
    }
}

/// `GET /api/v1/audit` pages with an opaque cursor, and one request id ties a response header,
/// its audit record and the server's log line together.
#[test]
fn r_gov_3_the_server_pages_with_a_cursor_and_logs_the_request_id() {
    with_backend(Backend::ServerSqlite, || {
        let mut env = TestEnv::new();
        let database = env.server.take().unwrap().database_url.clone();
        let log = env.root().join("server.log");
        env.use_server(Server::start_logging(
            &idp().issuer,
            database,
            &env.root().join("server"),
            &[("PLAT_LOG", "info")],
            Some(&log),
        ));
        env.acme();
        let base = env.server.as_ref().unwrap().url.clone();
        let token = idp().token(OPERATOR);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            // A refused write with the caller's own request id.
            let refused = client
                .post(format!("{base}/api/v1/accounts"))
                .bearer_auth(idp().token(BOB))
                .header("x-request-id", "probe-r-gov-3-0001")
                .json(&serde_json::json!({"slug": "shop-child", "owner": "x@shop.test"}))
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 403);
            assert_eq!(refused.headers()["x-request-id"], "probe-r-gov-3-0001");
            // An id not worth keeping is replaced by a fresh one.
            let fresh = client
                .get(format!("{base}/api/v1/whoami"))
                .bearer_auth(&token)
                .header("x-request-id", "bad id\twith spaces")
                .send()
                .await
                .unwrap();
            let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
            assert!(!id.is_empty() && !id.contains(' '), "{id}");

            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut request = client
                    .get(format!("{base}/api/v1/audit"))
                    .bearer_auth(&token)
                    .query(&[("limit", "2")]);
                if let Some(cursor) = &cursor {
                    request = request.query(&[("cursor", cursor)]);
                }
                let page: Value = request.send().await.unwrap().json().await.unwrap();
                let events = page["events"].as_array().unwrap();
                assert!(events.len() <= 2, "{page}");
                seen.extend(events.iter().cloned());
                match page["next"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            // acme, its tenant, acme-shop and the refusal: all pages, each record once.
            assert_eq!(seen.len(), 4, "{seen:?}");
            let refusal = find(&seen, "account.create", "shop-child").unwrap();
            assert_eq!(refusal["request_id"], "probe-r-gov-3-0001");

            let bad = client
                .get(format!("{base}/api/v1/audit"))
                .bearer_auth(&token)
                .query(&[("cursor", "forged")])
                .send()
                .await
                .unwrap();
            assert_eq!(bad.status(), 400);
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let line = text
                .lines()
                .find(|l| l.contains("probe-r-gov-3-0001") && l.contains("refused"));
            if line.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with the request id:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// On PostgreSQL the application's own role cannot change or remove past records; only the
/// retention prune removes old ones, and it leaves a record of doing so.
#[test]
fn r_gov_3_postgres_refuses_to_change_past_records_and_retention_prunes_on_record() {
    with_backend(Backend::ServerPostgres, || {
        let mut env = TestEnv::new();
        env.acme();
        let database = env.server.as_ref().unwrap().database_url.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let count = || {
            runtime.block_on(async {
                let store = plat::internals::Store::connect(&database, 1).await.unwrap();
                let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_events")
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
                let mut refusals = Vec::new();
                for statement in [
                    "UPDATE audit_events SET actor = 'someone-else'",
                    "DELETE FROM audit_events",
                    "TRUNCATE audit_events",
                ] {
                    let err = sqlx::query(statement)
                        .execute(&store.pool)
                        .await
                        .unwrap_err();
                    refusals.push(err.to_string());
                }
                store.pool.close().await;
                (rows, refusals)
            })
        };
        let (rows, refusals) = count();
        assert_eq!(rows, 3, "acme, its tenant and acme-shop");
        for refusal in refusals {
            assert!(refusal.contains("append-only"), "{refusal}");
        }
        assert_eq!(count().0, 3);

        // Three days later, with a retention of two: the old records go, on record.
        drop(env.server.take());
        env.use_server(Server::start_with(
            &idp().issuer,
            database.clone(),
            &env.root().join("later"),
            &[
                ("PLAT_CLOCK_OFFSET", "+72h"),
                ("PLAT_AUDIT_RETENTION", "2d"),
            ],
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        let events = loop {
            let events = trail(&env, None, &["--action", "audit.prune"]);
            if !events.is_empty() {
                break events;
            }
            assert!(Instant::now() < deadline, "the server did not prune");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            events[0]["target"]
                .as_str()
                .unwrap()
                .starts_with("3 records before "),
            "{events:?}"
        );
        assert_eq!(events[0]["account"], "platform");
        let all = trail(&env, None, &[]);
        assert_eq!(
            all.len(),
            1,
            "only the record of the pruning is left: {all:?}"
        );
    });
}

/// A service identity acting for a user is recorded as both (R-GOV-5), and a delegation refused
/// is on the service's record.
#[test]
fn r_gov_3_r_gov_5_a_delegated_write_names_both_identities() {
    with_backend(Backend::ServerSqlite, || {
        const SERVICE: &str = "backstage@acme.test";
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", SERVICE]);
        env.ok_as(
            ALICE,
            &[
                "group",
                "create",
                "backstage",
                "--permission",
                "users:act-for",
            ],
        );
        env.ok_as(ALICE, &["group", "add-member", "backstage", SERVICE]);
        let for_alice = [("PLAT_USER", SERVICE), ("PLAT_ON_BEHALF_OF", ALICE)];
        env.run_with(
            &["group", "create", "ops", "--permission", "envs:read"],
            &for_alice,
        )
        .success();
        // bob is no user of acme: the service may not act for him.
        let for_bob = [("PLAT_USER", SERVICE), ("PLAT_ON_BEHALF_OF", BOB)];
        env.run_with(
            &["group", "create", "x", "--permission", "envs:read"],
            &for_bob,
        )
        .failure(5);

        let events = trail(&env, Some(ALICE), &[]);
        let created = find(&events, "group.create", "ops").expect("group.create ops");
        assert_eq!(
            (&created["actor"], &created["delegated_by"]),
            (&ALICE.into(), &SERVICE.into())
        );
        let refused = find(&events, "user.act_for", BOB).expect("the refused delegation");
        assert_eq!(
            (&refused["actor"], &refused["outcome"]),
            (&SERVICE.into(), &"refused".into())
        );
    });
}

/// "Who destroyed this env, and when; who was refused": the env lifecycle on record, with
/// Terraform (PATH or PLAT_IAC_BIN).
#[test]
fn r_gov_3_the_trail_answers_who_destroyed_an_env_and_who_hit_the_quota() {
    let env = TestEnv::new();
    env.ok(&["env", "up", "dev"]);
    // One environment a day per user (R-ENV-2): the second is refused before Terraform runs.
    env.run(&["env", "up", "dev-2"]).failure(6);
    env.ok(&["env", "down", "dev", "--yes"]);

    let events = trail(&env, None, &[]);
    let lifecycle: Vec<(&str, &str, &str)> = events
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lifecycle,
        [
            ("env.up", "dev", "ok"),
            ("env.up.report", "dev", "ok"),
            ("env.up", "dev-2", "refused"),
            ("env.down", "dev", "ok"),
            ("env.down.report", "dev", "ok"),
        ]
    );
    let quota = find(&events, "env.up", "dev-2").unwrap();
    assert_eq!(quota["error_code"], "quota_exceeded");
    let down = trail(&env, None, &["--action", "env.down"]);
    assert_eq!((down.len(), &down[0]["actor"]), (1, &OPERATOR.into()));
}
