//! DOMAIN.md section 1: users.

use crate::support::{ALICE, BOB, TestEnv, scrub};

on_every_backend! {
    fn r_usr_1_users_are_global_and_never_deleted_by_an_account() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--name", "Carol"]);
        env.ok_as(BOB, &["user", "create", "carol@acme.test"]);
        let dump = env.dump();
        assert_eq!(dump.matches("carol@acme.test").count(), 1, "{dump}");
        // There is no verb to delete a user.
        let out = env.run_as(ALICE, &["user", "delete", "carol@acme.test"]);
        out.failure(2);
        // Users own themselves: only carol renames carol.
        env.refused(Some(ALICE), &["user", "update", "carol@acme.test", "--name", "C"], 5);
        let carol = env.ok_as("carol@acme.test", &["user", "update", "carol@acme.test", "--name", "Caroline", "-o", "json"]).json();
        assert_eq!(carol["name"], "Caroline");
    }

    fn r_usr_2_revoke_removes_access_and_keeps_the_user() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--name", "Carol", "--group", "developers"]);
        env.ok_as("carol@acme.test", &["account", "list"]);
        let revoked = env.ok_as(ALICE, &["user", "revoke", "carol@acme.test", "-o", "json"]).json();
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(revoked["groups"], serde_json::json!([]));
        let out = env.run_as("carol@acme.test", &["account", "list"]);
        out.failure(4);
        insta::assert_snapshot!(scrub(&out.transcript()), @r"
        exit: 4
        ----- stdout -----
        ----- stderr -----
        error: carol@acme.test has no access to this platform
        hint: ask an account admin to run `plat user create <e-mail>` in their account
        ");
        let listed = env.ok_as(ALICE, &["user", "show", "carol@acme.test", "-o", "json"]).json();
        assert_eq!(listed["status"], "revoked", "the user and the link's history stay");
        // Linking again restores access.
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--group", "viewers"]);
        env.ok_as("carol@acme.test", &["account", "list"]);
        // The owner cannot be revoked.
        env.refused(Some(ALICE), &["user", "revoke", ALICE], 5);
    }

    fn user_bad_input_is_refused_and_changes_nothing() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test"]);
        let cases: [(&[&str], &str); 4] = [
            (&["user", "create", "carol"], "invalid e-mail 'carol'"),
            (&["user", "create", "carol@acme.test"], "already linked"),
            (&["user", "create", "dave@acme.test", "--group", "nope"], "group 'nope' not found"),
            (&["user", "revoke", "nobody@acme.test"], "user 'nobody@acme.test' not found"),
        ];
        for (args, message) in cases {
            let out = env.refused(Some(ALICE), args, 1);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
        // Acting as someone who is not a platform user at all.
        let out = env.refused(Some("mallory@evil.test"), &["account", "list"], 4);
        assert!(out.stderr.contains("mallory@evil.test has no access"), "{}", out.stderr);
    }

    fn user_list_shows_links_of_the_current_account_only() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--name", "Carol", "--group", "developers"]);
        let out = env.ok_as(ALICE, &["user", "list"]);
        insta::assert_snapshot!(scrub(&out.transcript()), @r"
        exit: 0
        ----- stdout -----
        EMAIL            NAME   STATUS  GROUPS      LINKED
        alice@acme.test  -      active  admins      [TIME]
        carol@acme.test  Carol  active  developers  [TIME]
        ----- stderr -----
        ");
        let emails: Vec<String> = env.ok_as(BOB, &["user", "list", "-o", "json"]).json()
            .as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect();
        assert_eq!(emails, [BOB]);
    }
}

/// Servers cache resolved callers; a revocation made through one replica must still take effect
/// on the next request to another (R-USR-2, R-SEC-2).
#[test]
fn r_usr_2_a_revocation_through_one_replica_holds_at_once_on_another() {
    crate::support::with_backend(crate::support::Backend::ServerPostgres, || {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(
            ALICE,
            &["user", "create", "carol@acme.test", "--group", "developers"],
        );
        let server = env.server.as_ref().unwrap();
        let replica = crate::services::Server::start_with(
            &crate::services::idp().issuer,
            server.database_url.clone(),
            &env.root().join("replica"),
            &[],
        );
        let token = crate::services::idp().token("carol@acme.test");
        let accounts_on_replica = || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                reqwest::Client::new()
                    .get(format!("{}/api/v1/accounts", replica.url))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        };
        assert_eq!(accounts_on_replica(), 200);
        assert_eq!(
            accounts_on_replica(),
            200,
            "served from the replica's cache"
        );
        env.ok_as(ALICE, &["user", "revoke", "carol@acme.test"]);
        assert_eq!(accounts_on_replica(), 401);
    });
}
