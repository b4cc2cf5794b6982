//! DOMAIN.md section 1: tenants.

use crate::support::{ALICE, BOB, TestEnv};

on_every_backend! {
    fn r_ten_1_a_tenant_has_a_unique_domain_and_branding() {
        let env = TestEnv::new();
        env.acme();
        let tenant = env.ok_as(ALICE, &["tenant", "show", "acme-portal", "-o", "json"]).json();
        assert_eq!(tenant["domain"], "portal.acme.test");
        assert_eq!(tenant["branding"]["primary_color"], "#0a7");
        assert_eq!(tenant["branding"]["logo_url"], "https://acme.test/logo.png");
        let out = env.refused(Some(ALICE), &["tenant", "create", "other", "--domain", "portal.acme.test"], 1);
        assert!(out.stderr.contains("domain 'portal.acme.test' already belongs to another tenant"), "{}", out.stderr);
        let bad: [(&[&str], &str); 4] = [
            (&["tenant", "create", "t2", "--domain", "not a domain"], "invalid domain"),
            (&["tenant", "create", "t2", "--domain", "t2.acme.test", "--color", "green"], "invalid primary colour 'green'"),
            (&["tenant", "create", "t2", "--domain", "t2.acme.test", "--logo", "ftp://x"], "invalid logo URL"),
            (&["tenant", "create", "T2", "--domain", "t2.acme.test"], "invalid tenant name 'T2'"),
        ];
        for (args, message) in bad {
            let out = env.refused(Some(ALICE), args, 1);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
        // The domain is required; without a terminal the error lists it instead of prompting.
        let out = env.refused(Some(ALICE), &["tenant", "create", "t3"], 2);
        assert!(out.stderr.contains("missing required value(s): --domain"), "{}", out.stderr);
    }

    fn r_ten_2_every_tenant_has_an_owner_account() {
        let env = TestEnv::new();
        env.acme();
        let default = env.ok(&["tenant", "show", "default", "-o", "json"]).json();
        assert_eq!(default["owner_account"], "platform", "the master owns the default tenant");
        let portal = env.ok_as(ALICE, &["tenant", "show", "acme-portal", "-o", "json"]).json();
        assert_eq!(portal["owner_account"], "acme");
        // Without tenant-admin an account creates no tenants.
        env.refused(Some(BOB), &["tenant", "create", "shop", "--domain", "shop.test"], 5);
    }

    fn r_ten_3_the_creating_account_cannot_be_bound_to_its_own_tenant() {
        let env = TestEnv::new();
        env.acme();
        let out = env.refused(None, &["account", "update", "acme", "--tenant", "acme-portal"], 5);
        assert!(out.stderr.contains("which it created"), "{}", out.stderr);
    }

    fn r_ten_4_a_bound_account_edits_branding_but_never_domain() {
        let env = TestEnv::new();
        env.acme();
        let updated = env
            .ok_as(BOB, &["tenant", "update", "acme-portal", "--color", "#123456", "--description", "Shop", "-o", "json"])
            .json();
        assert_eq!(updated["branding"]["primary_color"], "#123456");
        assert!(updated["owner_account"].is_null(), "bob may not learn the owner (R-ACC-6)");
        let out = env.refused(Some(BOB), &["tenant", "update", "acme-portal", "--domain", "mine.test"], 5);
        assert!(out.stderr.contains("cannot change the domain"), "{}", out.stderr);
        // Branding is a permission: a viewer of acme-shop may not change it.
        env.ok_as(BOB, &["user", "create", "vic@shop.test", "--group", "viewers"]);
        env.refused(Some("vic@shop.test"), &["tenant", "update", "acme-portal", "--color", "#000"], 5);
        // The owner account may change the domain.
        env.ok_as(ALICE, &["tenant", "update", "acme-portal", "--domain", "shop.acme.test"]);
    }

    fn tenant_delete_refuses_while_accounts_are_bound() {
        let env = TestEnv::new();
        env.acme();
        env.refused(Some(ALICE), &["tenant", "delete", "acme-portal", "--yes"], 1);
        env.ok_as(ALICE, &["account", "delete", "acme-shop", "--yes"]);
        env.ok_as(ALICE, &["tenant", "delete", "acme-portal", "--yes"]);
        let tenants = env.ok_as(ALICE, &["tenant", "list", "-o", "json"]).json();
        assert_eq!(tenants.as_array().unwrap().len(), 1);
    }
}
