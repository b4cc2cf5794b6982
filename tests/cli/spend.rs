//! Spend per account (DOMAIN.md R-ACC-5, R-GOV-4): the built-in `demo` template costs
//! 2 × 12.50 + 18 + 0.50 + 1 = 44.50 a day with its default parameters.
//!
//! - R-GOV-4 Spend is tracked per account: templates declare cost, environments accrue it,
//!   budgets are checked before provisioning, a parent sees its subtree's spend.
//! - R-ACC-5 Money, spend and limits are tracked per account.

use crate::support::{ALICE, BOB, TestEnv};

const DAILY: f64 = 44.5;

fn json_keys(report: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

/// This month and the next (an env created near a month's end may accrue in both).
fn months_from_now() -> [String; 2] {
    let today = jiff::Zoned::now().date().first_of_month();
    let next = today.checked_add(jiff::Span::new().months(1)).unwrap();
    [today, next].map(|day| day.strftime("%Y-%m").to_string())
}

/// Spend total over this month and the next, as seen `offset` from now.
fn total_seen(env: &TestEnv, user: &str, extra: &[(&str, &str)]) -> f64 {
    months_from_now()
        .iter()
        .map(|month| {
            let mut vars = extra.to_vec();
            vars.push(("PLAT_USER", user));
            let out = env.run_with(&["spend", "--month", month, "-o", "json"], &vars);
            out.success();
            out.json()["total"].as_f64().unwrap()
        })
        .sum()
}

fn close_to(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 0.1
}

/// Lets the operator start as many envs a day as a test needs (R-ENV-3 is not under test).
fn lift_quota(env: &TestEnv) {
    env.ok(&["policy", "set", "--envs-per-day", "20"]);
}

on_every_backend! {
    fn r_gov_4_env_up_shows_the_estimate_and_the_env_accrues_it_while_it_lives() {
        let mut env = TestEnv::new();
        let up = env.ok(&["env", "up", "preview", "--ttl", "4h", "-o", "json"]);
        assert!(
            up.stderr.contains("Estimated cost of environment preview: 44.50 USD/day, 7.42 USD until it expires"),
            "{}",
            up.stderr
        );
        let shown = up.json();
        assert_eq!(shown["cost"]["daily"], DAILY, "{shown}");
        assert_eq!(shown["cost"]["lifetime"], 7.42, "{shown}");
        assert_eq!(shown["cost"]["currency"], "USD");
        // A day later it has cost one day (it is still alive: the reaper has not run).
        let day_later = [("PLAT_CLOCK_OFFSET", "+24h")];
        let seen = match env.server.take() {
            None => total_seen(&env, "operator@localhost", &day_later),
            Some(server) => {
                // The server's clock is its own: a replica on the same database, a day ahead.
                let replica = crate::services::Server::start_with(
                    &crate::services::idp().issuer,
                    server.database_url.clone(),
                    &env.root().join("replica"),
                    &day_later,
                );
                env.use_server(replica);
                total_seen(&env, "operator@localhost", &[])
            }
        };
        assert!(close_to(seen, DAILY), "{seen}");
        let report = env.ok(&["spend", "-o", "json"]).json();
        assert_eq!(json_keys(&report), vec!["platform"]);
        assert_eq!(report["lines"][0]["envs"], 1);
    }

    fn r_gov_4_a_budget_refuses_env_up_and_extend_before_terraform_with_nothing_changed() {
        let env = TestEnv::new();
        env.acme();
        lift_quota(&env);
        let set = env.ok_as(ALICE, &["policy", "set", "--budget-monthly", "5", "-o", "json"]).json();
        assert_eq!(set["budget_monthly"], 5.0, "{set}");
        assert_eq!(set["currency"], "USD");
        // 4 h of demo is 7.42 > 5: refused before anything is recorded or run.
        let refused = env.refused(Some(ALICE), &["env", "up", "big", "--ttl", "4h"], 6);
        assert!(refused.stderr.contains("monthly budget of account 'acme'"), "{}", refused.stderr);
        assert!(refused.stderr.contains("7.42 USD"), "{}", refused.stderr);
        assert!(!env.data_dir().join("envs").exists(), "Terraform ran");
        assert_eq!(env.ok_as(ALICE, &["env", "list", "--all", "-o", "json"]).json(), serde_json::json!([]));
        // 30 min (0.93) fits; pushing it to 4 h from now (+6.49) does not.
        env.ok_as(ALICE, &["env", "up", "small", "--ttl", "30m"]);
        let refused = env.refused(Some(ALICE), &["env", "extend", "small", "4h"], 6);
        assert!(refused.stderr.contains("monthly budget"), "{}", refused.stderr);
        env.ok_as(ALICE, &["env", "extend", "small", "1h"]);
    }

    fn r_gov_4_a_parents_budget_covers_its_subtree_without_naming_the_parent() {
        let env = TestEnv::new();
        env.acme();
        lift_quota(&env);
        env.ok(&["policy", "set", "--budget-monthly", "5"]);
        // bob's acme-shop is two levels below the platform's root.
        let refused = env.refused(Some(BOB), &["env", "up", "big", "--ttl", "4h"], 6);
        assert!(refused.stderr.contains("set above account 'acme-shop'"), "{}", refused.stderr);
        assert!(!refused.stderr.contains("platform"), "{}", refused.stderr);
        // acme's own policy shows its own budget only (none), not the one above it (R-ACC-6).
        let policy = env.ok_as(ALICE, &["policy", "show", "-o", "json"]).json();
        assert!(policy.get("budget_monthly").is_none(), "{policy}");
        env.ok_as(BOB, &["env", "up", "small", "--ttl", "30m"]);
    }

    fn r_acc_5_an_account_sees_its_own_and_sub_accounts_spend_never_its_parents() {
        let env = TestEnv::new();
        env.acme();
        lift_quota(&env);
        env.ok(&["env", "up", "root-env"]);
        env.ok_as(ALICE, &["env", "up", "acme-env"]);
        env.ok_as(BOB, &["env", "up", "shop-env"]);
        let seen = |user: &str, by: &str| json_keys(&env.ok_as(user, &["spend", "--by", by, "-o", "json"]).json());
        assert_eq!(seen("operator@localhost", "account"), vec!["acme", "acme-shop", "platform"]);
        assert_eq!(seen(ALICE, "account"), vec!["acme", "acme-shop"]);
        assert_eq!(seen(BOB, "account"), vec!["acme-shop"]);
        // Tenants by the appgear.io/tenant-id label the resources carry.
        assert_eq!(seen(ALICE, "tenant"), vec!["acme-portal", "default"]);
        assert_eq!(seen(ALICE, "label:appgear.io/tenant-id"), vec!["acme-portal", "default"]);
        assert_eq!(seen(ALICE, "template"), vec!["demo"]);
        assert_eq!(seen(ALICE, "owner"), vec![ALICE, BOB]);
        assert_eq!(seen(ALICE, "label:appgear.io/suite"), vec!["demo"]);
        assert_eq!(seen(BOB, "label:no-such-label"), vec![""]);
        let table = env.ok_as(ALICE, &["spend", "--by", "owner"]);
        assert!(table.stdout.starts_with("KEY"), "{}", table.stdout);
        assert!(table.stdout.contains("TOTAL"), "{}", table.stdout);
        assert!(!table.stdout.contains("operator"), "{}", table.stdout);
    }

    fn r_acc_5_bad_spend_and_budget_input_is_a_usage_error_and_changes_nothing() {
        let env = TestEnv::new();
        env.ok(&["whoami"]);
        let before = env.dump();
        for (args, says) in [
            (vec!["spend", "--by", "colour"], "cannot sum spend by 'colour'"),
            (vec!["spend", "--by", "label:"], "label:KEY"),
            (vec!["spend", "--month", "2026-13"], "is not a month"),
            (vec!["spend", "--month", "december"], "YYYY-MM"),
            (vec!["policy", "set", "--budget-monthly=-5"], "between 0 and"),
            (vec!["policy", "set", "--budget-monthly", "lots"], "is not an amount"),
        ] {
            let out = env.run(&args);
            out.failure(2);
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty());
        }
        assert_eq!(before, env.dump());
    }
}

#[test]
fn r_acc_5_a_destroyed_env_stops_accruing_in_the_platforms_currency() {
    let env = TestEnv::new();
    let eur = ("PLAT_CURRENCY", "EUR");
    let up = env.run_with(
        &["env", "up", "preview", "--ttl", "1h", "-o", "json"],
        &[eur],
    );
    up.success();
    assert_eq!(up.json()["cost"]["currency"], "EUR");
    let day_later = [eur, ("PLAT_CLOCK_OFFSET", "+24h")];
    env.run_with(&["env", "down", "preview", "--yes"], &day_later)
        .success();
    let spent = total_seen(
        &env,
        "operator@localhost",
        &[eur, ("PLAT_CLOCK_OFFSET", "+72h")],
    );
    assert!(close_to(spent, DAILY), "{spent}");
    let report = env.run_with(&["spend", "-o", "json"], &[eur]).json();
    assert_eq!(report["currency"], "EUR");
    let bad = env.run_with(&["spend"], &[("PLAT_CURRENCY", "euro")]);
    bad.failure(1);
    assert!(bad.stderr.contains("ISO 4217"), "{}", bad.stderr);
}

#[test]
fn r_gov_4_the_spend_route_is_in_the_openapi_document() {
    let env = TestEnv::new();
    let doc = env.ok(&["server", "openapi"]).json();
    let route = &doc["paths"]["/api/v1/spend"]["get"];
    assert!(route.is_object(), "{}", doc["paths"]);
    assert!(doc["components"]["schemas"]["SpendReport"].is_object());
    assert!(doc["components"]["schemas"]["EnvCost"].is_object());
}
