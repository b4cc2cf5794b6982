//! DOMAIN.md section 1: groups, permissions and the security module.

use crate::support::{ALICE, BOB, TestEnv};

on_every_backend! {
    // R-SEC-2: a scan or a scaffold runs on the caller's machine, but the platform's service
    // decides whether the caller may run one (`scan:run`, `scaffold:run`), local or remote.
    fn r_sec_2_scan_and_scaffold_are_authorized_by_the_platform() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test"]);
        env.ok_as(ALICE, &["group", "add-member", "viewers", "carol@acme.test"]);
        let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s");
        let manifests = manifests.to_str().unwrap();
        let out = env.refused(Some("carol@acme.test"), &["scan", manifests], 5);
        assert!(out.stderr.contains("'scan:run'"), "{}", out.stderr);
        let target = env.root().join("svc");
        let out = env.refused(
            Some("carol@acme.test"),
            &["scaffold", "run", "rust-service", target.to_str().unwrap(), "--set", "name=svc", "--set", "owner=group:default/a", "--no-git"],
            5,
        );
        assert!(out.stderr.contains("'scaffold:run'"), "{}", out.stderr);
        assert!(!target.exists(), "a refused scaffold wrote nothing");
        // A developer may do both.
        env.ok_as(ALICE, &["group", "add-member", "developers", "carol@acme.test"]);
        env.ok_as("carol@acme.test", &["scan", manifests]);
    }

    fn r_grp_1_permissions_come_from_groups_only() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test"]);
        // Linked but in no group: carol may not even read.
        let out = env.refused(Some("carol@acme.test"), &["account", "list"], 5);
        assert!(out.stderr.contains("lacks the permission 'accounts:read'"), "{}", out.stderr);
        env.ok_as(ALICE, &["group", "create", "release-managers", "--permission", "envs:write", "--permission", "automations:run", "--permission", "accounts:read"]);
        env.ok_as(ALICE, &["group", "add-member", "release-managers", "carol@acme.test"]);
        let me = env.ok_as("carol@acme.test", &["whoami", "-o", "json"]).json();
        assert_eq!(me["permissions"], serde_json::json!(["accounts:read", "automations:run", "envs:write"]));
        env.ok_as("carol@acme.test", &["account", "list"]);
        // Not an admin: no writes.
        env.refused(Some("carol@acme.test"), &["user", "create", "x@acme.test"], 5);
        env.ok_as(ALICE, &["group", "remove-member", "release-managers", "carol@acme.test"]);
        env.refused(Some("carol@acme.test"), &["account", "list"], 5);
    }

    fn r_grp_2_every_account_starts_with_predefined_groups() {
        let env = TestEnv::new();
        env.acme();
        let groups = env.ok_as(BOB, &["group", "list", "-o", "json"]).json();
        let names: Vec<&str> = groups.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["admins", "developers", "viewers"]);
        assert_eq!(groups[0]["members"], serde_json::json!([BOB]), "the owner is an admin");
        assert!(groups.as_array().unwrap().iter().all(|g| g["builtin"] == true));
        let viewers = groups[2]["permissions"].as_array().unwrap();
        assert!(viewers.iter().all(|p| p.as_str().unwrap().ends_with(":read")));
        env.refused(Some(BOB), &["group", "delete", "admins", "--yes"], 5);
        env.refused(Some(BOB), &["group", "update", "viewers", "--add-permission", "envs:write"], 5);
    }

    fn group_bad_input_is_refused_and_changes_nothing() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["group", "create", "ops", "--permission", "envs:read"]);
        let cases: [(&[&str], &str, i32); 5] = [
            (&["group", "create", "ops2", "--permission", "envs:fly"], "unknown permission 'envs:fly'", 1),
            (&["group", "create", "ops"], "group 'ops' already exists", 1),
            (&["group", "create", "Ops!"], "invalid group name", 1),
            (&["group", "add-member", "ops", "stranger@x.test"], "is not a member of account 'acme'", 1),
            // acme lacks automation-manager: a grant that could never take effect is refused.
            (&["group", "create", "autos", "--permission", "automations:write"], "does not hold the role 'automation-manager'", 5),
        ];
        for (args, message, code) in cases {
            let out = env.refused(Some(ALICE), args, code);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
    }

    fn r_sec_1_resources_belong_to_one_account() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["group", "create", "ops", "--permission", "envs:read"]);
        // The group is acme's: acme-shop has no such group, even though acme is its parent.
        env.run_as(BOB, &["group", "show", "ops"]).failure(1);
        // Acting in a sub-account, alice sees that account's groups, not acme's.
        let shop_groups = env.ok_as(ALICE, &["group", "list", "--account", "acme-shop", "-o", "json"]).json();
        assert!(shop_groups.as_array().unwrap().iter().all(|g| g["name"] != "ops"));
    }

    fn r_sec_2_no_path_reads_or_writes_another_tree() {
        let env = TestEnv::new();
        env.acme();
        env.ok(&["account", "create", "globex", "--owner", "gina@globex.test", "--role", "user-admin", "--role", "account-admin"]);
        let attempts: [&[&str]; 7] = [
            &["account", "show", "globex"],
            &["account", "update", "globex", "--name", "x"],
            &["account", "delete", "globex", "--yes"],
            &["group", "list", "--account", "globex"],
            &["user", "create", "x@acme.test", "--account", "globex"],
            &["tenant", "update", "default", "--domain", "evil.test"],
            &["account", "create", "under-globex", "--owner", "x@y.test", "--account", "globex"],
        ];
        for args in attempts {
            let before = env.dump();
            let out = env.run_as(ALICE, args);
            assert_ne!(out.code, 0, "{args:?} must fail:\n{}", out.transcript());
            assert_eq!(before, env.dump(), "{args:?} changed the database");
            assert!(!out.stdout.contains("gina"), "{args:?} leaked:\n{}", out.transcript());
        }
    }

    fn r_sec_3_other_accounts_resources_are_not_found_not_forbidden() {
        let env = TestEnv::new();
        env.acme();
        env.ok(&["account", "create", "globex", "--owner", "gina@globex.test"]);
        let hidden = env.run_as(BOB, &["account", "show", "globex", "-o", "json"]);
        let missing = env.run_as(BOB, &["account", "show", "nothing", "-o", "json"]);
        hidden.failure(1);
        assert_eq!(hidden.stderr.replace("globex", "X"), missing.stderr.replace("nothing", "X"));
        assert!(hidden.stderr.contains(r#""code":"not_found""#), "{}", hidden.stderr);
    }
}

/// R-SEC-2: a platform in a database named by `PLAT_DATABASE_URL` is asked too, even though the
/// default database file in the data dir does not exist.
#[test]
fn r_sec_2_scan_is_authorized_by_a_platform_named_by_plat_database_url() {
    let mut env = TestEnv::new();
    let url = format!(
        "sqlite://{}?mode=rwc",
        env.root().join("elsewhere.db").display()
    );
    env.vars.insert("PLAT_DATABASE_URL".into(), url);
    env.acme();
    env.ok_as(ALICE, &["user", "create", "carol@acme.test"]);
    env.ok_as(
        ALICE,
        &["group", "add-member", "viewers", "carol@acme.test"],
    );
    assert!(!env.data_dir().join("plat.db").exists());
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s");
    let out = env.run_as("carol@acme.test", &["scan", manifests.to_str().unwrap()]);
    out.failure(5);
    assert!(out.stderr.contains("'scan:run'"), "{}", out.stderr);
}
