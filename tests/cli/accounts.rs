//! DOMAIN.md section 1: accounts and account roles.

use crate::support::{ALICE, BOB, TestEnv, scrub};

on_every_backend! {
    fn r_acc_1_exactly_one_master_account_without_parent() {
        let env = TestEnv::new();
        let accounts = env.ok(&["account", "list", "-o", "json"]).json();
        let accounts = accounts.as_array().unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0]["slug"], "platform");
        assert!(accounts[0]["parent"].is_null());
        // The master account can neither delete itself nor be recreated.
        env.refused(None, &["account", "delete", "platform", "--yes"], 5);
        env.refused(None, &["account", "create", "platform", "--owner", "x@y.test"], 1);
    }

    fn r_acc_2_the_creator_is_the_parent() {
        let env = TestEnv::new();
        env.acme();
        let shop = env.ok_as(ALICE, &["account", "show", "acme-shop", "-o", "json"]).json();
        assert_eq!(shop["parent"], "acme");
        let acme = env.ok(&["account", "show", "acme", "-o", "json"]).json();
        assert_eq!(acme["parent"], "platform");
    }

    fn r_acc_3_owner_user_is_created_or_linked_and_tenant_bound() {
        let env = TestEnv::new();
        env.ok(&["account", "create", "one", "--owner", "dana@x.test"]);
        env.ok(&["account", "create", "two", "--owner", "dana@x.test"]);
        let one = env.ok(&["account", "show", "one", "-o", "json"]).json();
        let two = env.ok(&["account", "show", "two", "-o", "json"]).json();
        assert_eq!(one["owner"], "dana@x.test");
        assert_eq!(two["owner"], "dana@x.test");
        assert_eq!(one["tenant"], "default", "bound to the creator's tenant by default");
        let dump = env.dump();
        assert_eq!(dump.matches("dana@x.test").count(), 1, "one global user, linked twice:\n{dump}");
        // The same user now belongs to both accounts and acts in the first by default.
        let me = env.ok_as("dana@x.test", &["whoami", "-o", "json"]).json();
        assert_eq!(me["account"], "one");
        env.ok_as("dana@x.test", &["account", "show", "two", "--account", "two"]);
    }

    fn r_acc_4_an_account_cannot_change_its_own_tenant_or_owner() {
        let env = TestEnv::new();
        env.acme();
        let out = env.refused(Some(ALICE), &["account", "update", "acme", "--tenant", "default"], 5);
        assert!(out.stderr.contains("cannot change its own tenant or owner"), "{}", out.stderr);
        env.refused(Some(ALICE), &["account", "update", "acme", "--owner", "eve@acme.test"], 5);
        // Its parent can.
        let updated = env.ok(&["account", "update", "acme", "--owner", "eve@acme.test", "-o", "json"]).json();
        assert_eq!(updated["owner"], "eve@acme.test");
        // And the account may still rename itself.
        env.ok_as(ALICE, &["account", "update", "acme", "--name", "ACME Corp"]);
    }

    fn r_acc_6_an_account_never_learns_its_parent() {
        let env = TestEnv::new();
        env.acme();
        let parent = env.ok(&["account", "show", "acme", "-o", "json"]).json();
        let parent_id = parent["id"].as_str().unwrap().to_owned();
        let outputs = [
            env.ok_as(BOB, &["account", "list", "-o", "json"]),
            env.ok_as(BOB, &["account", "show", "acme-shop", "-o", "yaml"]),
            env.ok_as(BOB, &["account", "list"]),
            env.ok_as(BOB, &["whoami", "-o", "json"]),
            env.ok_as(BOB, &["tenant", "list", "-o", "json"]),
            env.run_as(BOB, &["account", "show", "acme"]),
            env.run_as(BOB, &["account", "update", "acme", "--name", "x"]),
        ];
        for out in &outputs {
            let all = format!("{}{}", out.stdout, out.stderr);
            for leak in ["\"acme\"", "acme ", "acme\n", "alice", &parent_id] {
                assert!(!all.contains(leak), "parent leaked ({leak}):\n{}", out.transcript());
            }
        }
        let me = env.ok_as(BOB, &["account", "show", "acme-shop", "-o", "json"]).json();
        assert!(me["parent"].is_null());
        // The parent itself does see the column.
        let from_parent = env.ok_as(ALICE, &["account", "show", "acme-shop", "-o", "json"]).json();
        assert_eq!(from_parent["parent"], "acme");
    }

    fn r_acc_7_an_account_sees_itself_and_its_descendants_only() {
        let env = TestEnv::new();
        env.acme();
        env.ok(&["account", "create", "globex", "--owner", "gina@globex.test", "--role", "account-admin"]);
        env.ok_as("gina@globex.test", &["account", "create", "globex-eu", "--owner", "gus@globex.test"]);
        let seen: Vec<String> = env.ok_as(ALICE, &["account", "list", "-o", "json"]).json()
            .as_array().unwrap().iter().map(|a| a["slug"].as_str().unwrap().to_owned()).collect();
        assert_eq!(seen, ["acme", "acme-shop"]);
        // A sibling, a cousin and the parent answer exactly like an account that does not exist.
        let missing = env.run_as(ALICE, &["account", "show", "no-such-account"]);
        for hidden in ["globex", "globex-eu", "platform"] {
            let out = env.run_as(ALICE, &["account", "show", hidden]);
            out.failure(1);
            assert_eq!(out.stderr.replace(hidden, "X"), missing.stderr.replace("no-such-account", "X"));
        }
        let out = env.run_as(ALICE, &["account", "list", "--account", "globex"]);
        out.failure(1);
        assert!(out.stderr.contains("account 'globex' not found"), "{}", out.stderr);
    }

    fn r_role_1_without_account_admin_no_sub_accounts() {
        let env = TestEnv::new();
        env.acme();
        let out = env.refused(Some(BOB), &["account", "create", "shop-kids", "--owner", "kid@shop.test"], 5);
        insta::assert_snapshot!(scrub(&out.transcript()), @r"
        exit: 5
        ----- stdout -----
        ----- stderr -----
        error: account 'acme-shop' cannot create sub-accounts: it does not hold the role 'account-admin'
        hint: roles are granted by the parent account (`plat account update SLUG --add-role ROLE`)
        ");
    }

    fn r_role_2_roles_are_granted_only_as_the_parent_may() {
        let env = TestEnv::new();
        env.acme();
        // acme holds account-admin but not subaccount-admin: it cannot hand account-admin down.
        let out = env.refused(Some(ALICE), &["account", "create", "sub", "--owner", "s@acme.test", "--role", "account-admin"], 5);
        assert!(out.stderr.contains("requires the role 'subaccount-admin'"), "{}", out.stderr);
        // tenant-admin needs subaccount-tenant.
        env.refused(Some(ALICE), &["account", "create", "sub", "--owner", "s@acme.test", "--role", "tenant-admin"], 5);
        // Any other role needs the role itself: acme lacks automation-manager.
        env.refused(Some(ALICE), &["account", "create", "sub", "--owner", "s@acme.test", "--role", "automation-manager"], 5);
        env.refused(Some(ALICE), &["account", "update", "acme-shop", "--add-role", "automation-manager"], 5);
        // A role acme holds itself can be granted.
        let sub = env.ok_as(ALICE, &["account", "create", "sub", "--owner", "s@acme.test", "--role", "user-admin", "-o", "json"]).json();
        assert_eq!(sub["roles"], serde_json::json!(["user-admin"]));
        // No account can grant itself a role.
        let out = env.refused(Some(ALICE), &["account", "update", "acme", "--add-role", "user-admin"], 5);
        assert!(out.stderr.contains("cannot change its own roles"), "{}", out.stderr);
        // The master holds subaccount-admin, so it can grant account-admin.
        env.ok(&["account", "update", "acme", "--add-role", "subaccount-admin", "--add-role", "account-admin"]);
        env.ok_as(ALICE, &["account", "create", "sub2", "--owner", "s@acme.test", "--role", "account-admin"]);
    }

    fn r_role_3_the_master_account_holds_every_role() {
        let env = TestEnv::new();
        let master = env.ok(&["account", "show", "-o", "json"]).json();
        let roles: Vec<&str> = master["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(roles, ["account-admin", "automation-manager", "subaccount-admin", "subaccount-tenant", "tenant-admin", "user-admin"]);
    }

    fn r_acc_3_bad_input_is_refused_and_changes_nothing() {
        let env = TestEnv::new();
        env.acme();
        let cases: [(&[&str], &str); 6] = [
            (&["account", "create", "Bad_Slug", "--owner", "x@y.test"], "invalid account slug 'Bad_Slug'"),
            (&["account", "create", "ok", "--owner", "not-an-email"], "invalid e-mail 'not-an-email'"),
            (&["account", "create", "acme", "--owner", "x@y.test"], "account slug 'acme' is already taken"),
            (&["account", "create", "ok", "--owner", "x@y.test", "--role", "wizard"], "unknown role 'wizard'"),
            (&["account", "create", "ok", "--owner", "x@y.test", "--tenant", "nope"], "tenant 'nope' not found"),
            (&["account", "delete", "acme", "--yes"], "account 'acme' still has sub-accounts"),
        ];
        for (args, message) in cases {
            let out = env.refused(None, args, 1);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
        // A tenant that belongs to a sub-account is not the creator's to use.
        let out = env.refused(None, &["account", "create", "ok", "--owner", "x@y.test", "--tenant", "acme-portal"], 5);
        assert!(out.stderr.contains("belongs to account 'acme'"), "{}", out.stderr);
    }

    fn account_delete_removes_a_leaf_and_keeps_its_users() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["account", "delete", "acme-shop", "--yes"]);
        env.run_as(ALICE, &["account", "show", "acme-shop"]).failure(1);
        assert!(env.dump().contains("bob@shop.test"), "users are global and survive (R-USR-1)");
        // Without --yes and without a terminal, nothing is deleted.
        let out = env.refused(None, &["account", "delete", "acme"], 2);
        assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    }
}
