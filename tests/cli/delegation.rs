//! A service identity (a Backstage backend) acting for a user (R-GOV-5): the server applies the
//! user's rules, only when the service holds `users:act-for` by name, and only inside the account
//! that trusted it (R-SEC-2, R-SEC-3).

use crate::support::{ALICE, BOB, Backend, Outcome, TestEnv, with_backend};

const SERVICE: &str = "backstage@acme.test";
const CAROL: &str = "carol@acme.test";

/// acme with a service identity whose group may act for users (and write environments itself),
/// and carol, a viewer.
fn acme_with_service() -> TestEnv {
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
            "--permission",
            "envs:write",
            "--permission",
            "envs:read",
        ],
    );
    env.ok_as(ALICE, &["group", "add-member", "backstage", SERVICE]);
    env.ok_as(ALICE, &["user", "create", CAROL, "--group", "viewers"]);
    // First requests link the IdP subjects (R-USR-3) before any "nothing changed" snapshot.
    env.ok_as(SERVICE, &["whoami"]);
    env.ok_as(CAROL, &["whoami"]);
    env.ok_as(BOB, &["whoami"]);
    env
}

/// `caller`'s token, acting for `user`.
fn on_behalf(env: &TestEnv, caller: &str, user: &str, args: &[&str]) -> Outcome {
    env.run_with(args, &[("PLAT_USER", caller), ("PLAT_ON_BEHALF_OF", user)])
}

/// Refused with exit 5, plat's message and hint, and nothing changed.
#[track_caller]
fn refused(env: &TestEnv, caller: &str, user: &str, args: &[&str], message: &str) {
    let before = env.dump();
    let outcome = on_behalf(env, caller, user, args);
    outcome.failure(5);
    assert!(
        outcome.stderr.contains(message) && outcome.stderr.contains("\nhint: "),
        "{message}:\n{}",
        outcome.transcript()
    );
    assert_eq!(
        before,
        env.dump(),
        "a refused delegation changed the database"
    );
}

fn on_server(body: impl FnOnce()) {
    with_backend(Backend::ServerSqlite, body);
}

#[test]
fn a_service_acts_with_the_users_identity_and_permissions_r_gov_5() {
    on_server(|| {
        let env = acme_with_service();
        let me = on_behalf(&env, SERVICE, ALICE, &["whoami", "-o", "json"])
            .success()
            .json();
        assert_eq!(me["user"], ALICE);
        assert_eq!(me["account"], "acme");
        assert_eq!(me["delegated_by"], SERVICE, "both identities: {me}");
        assert_eq!(me["permissions"], serde_json::json!(["*"]));

        let carol = on_behalf(&env, SERVICE, CAROL, &["whoami", "-o", "json"])
            .success()
            .json();
        assert_eq!(carol["user"], CAROL);
        assert!(
            !carol["permissions"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("envs:write")),
            "a viewer: {carol}"
        );
        // Without the header the service is itself.
        let itself = env.ok_as(SERVICE, &["whoami", "-o", "json"]).json();
        assert_eq!(itself["user"], SERVICE);
        assert!(itself.get("delegated_by").is_none());
    });
}

#[test]
fn the_users_rules_apply_not_the_services_r_gov_5() {
    on_server(|| {
        let env = acme_with_service();
        // The service may write environments itself; carol may not, so acting for her it cannot.
        refused(
            &env,
            SERVICE,
            CAROL,
            &["env", "up", "carols", "--no-input"],
            "carol@acme.test lacks the permission 'envs:write' in account 'acme'",
        );
        // What it does for alice is alice's: her environment, her quota.
        let up = on_behalf(&env, SERVICE, ALICE, &["env", "up", "alices", "-o", "json"]);
        assert_eq!(up.success().json()["owner"], ALICE);
        let over = on_behalf(&env, SERVICE, ALICE, &["env", "up", "again", "-o", "json"]);
        over.failure(6);
        let own = env.ok_as(SERVICE, &["env", "quota", "-o", "json"]).json();
        let alices = on_behalf(&env, SERVICE, ALICE, &["env", "quota", "-o", "json"])
            .success()
            .json();
        assert_ne!(own, alices, "the quota spent is alice's, not the service's");
    });
}

#[test]
fn delegation_needs_the_permission_by_name_not_admins_star_r_gov_5() {
    on_server(|| {
        let env = acme_with_service();
        // alice owns acme and holds `*`: that is not a licence to act as others.
        refused(
            &env,
            ALICE,
            CAROL,
            &["whoami"],
            "alice@acme.test lacks the permission 'users:act-for' in account 'acme'",
        );
        env.ok_as(ALICE, &["group", "remove-member", "backstage", SERVICE]);
        env.ok_as(ALICE, &["group", "add-member", "admins", SERVICE]);
        refused(
            &env,
            SERVICE,
            CAROL,
            &["env", "list"],
            "backstage@acme.test lacks the permission 'users:act-for' in account 'acme'",
        );
    });
}

#[test]
fn a_service_acts_only_inside_the_account_that_trusted_it_r_gov_5_r_sec_3() {
    on_server(|| {
        let env = acme_with_service();
        // bob owns acme-shop, below acme: not a user of acme, and unknown users get the same answer.
        for user in [BOB, "nobody@acme.test"] {
            refused(
                &env,
                SERVICE,
                user,
                &["env", "list"],
                &format!(
                    "backstage@acme.test cannot act for {user}: no such user has access to account 'acme'"
                ),
            );
        }
        // acme sees acme-shop, but its service acts for no one there.
        refused(
            &env,
            SERVICE,
            BOB,
            &["env", "list", "--account", "acme-shop"],
            "backstage@acme.test acts for users only in the account that trusted it, not in 'acme-shop'",
        );
    });
}

#[test]
fn acting_for_a_user_needs_a_server() {
    let env = TestEnv::new();
    let outcome = env.run_with(&["whoami"], &[("PLAT_ON_BEHALF_OF", ALICE)]);
    outcome.failure(1);
    assert!(
        outcome
            .stderr
            .contains("PLAT_ON_BEHALF_OF needs a plat server"),
        "{}",
        outcome.transcript()
    );
}
