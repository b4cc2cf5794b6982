//! R-GOV-1: identity comes from the IdP. The claim that names a user is configurable
//! (`plat server --oidc-username-claim`), and an account's admins map IdP groups (the token's
//! `--oidc-groups-claim`) to the account's platform groups (`plat group link-idp`). A mapping
//! never reaches users of other accounts, and IdP membership is re-read from each token.
//!
//! The tokens come from the real oidc-provider the harness runs; its `/test/claims` route sets
//! the `groups` claim (or leaves `email` out) of a subject's next tokens.

use crate::services::{AUDIENCE, Server, idp, runtime};
use crate::support::{ALICE, Outcome, TestEnv};

const RELEASE: &str = "/acme/release";

/// Restarts the test's server on the same database with `vars` (e.g. the groups claim).
fn restart_server(env: &mut TestEnv, vars: &[(&str, &str)]) {
    let old = env.server.take().expect("a server backend");
    let database_url = old.database_url.clone();
    drop(old);
    let dir = env.root().join("server");
    env.use_server(Server::start_with(&idp().issuer, database_url, &dir, vars));
}

/// A test server whose tokens' `groups` claim lists IdP groups.
fn server_reading_groups() -> TestEnv {
    let mut env = TestEnv::new();
    restart_server(&mut env, &[("PLAT_SERVER_OIDC_GROUPS_CLAIM", "groups")]);
    env
}

/// A person of the IdP whose e-mail (and so subject) no other test uses: tests run in parallel
/// against one IdP, and a subject's extra claims are the IdP's state.
fn person(local: &str, domain: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{local}{}@{domain}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh access token for `email` (subject: its local part) carrying `claims` on top of the
/// IdP's usual ones (`null` leaves a claim out).
fn token_with(email: &str, claims: serde_json::Value) -> String {
    let subject = email.split('@').next().unwrap();
    idp().post(
        "/test/claims",
        serde_json::json!({ "sub": subject, "claims": claims }),
    );
    runtime().block_on(idp().device_flow(subject, email, AUDIENCE))
}

fn token_in_groups(email: &str, groups: &[&str]) -> String {
    token_with(email, serde_json::json!({ "groups": groups }))
}

/// Runs plat with exactly this bearer token.
fn run_with_token(env: &TestEnv, token: &str, args: &[&str]) -> Outcome {
    let mut cmd = env.command(args);
    cmd.env("PLAT_TOKEN", token);
    Outcome::from(cmd.output().expect("run plat"))
}

fn permissions(env: &TestEnv, token: &str, account: Option<&str>) -> serde_json::Value {
    let mut args = vec!["whoami", "-o", "json"];
    if let Some(account) = account {
        args.extend(["--account", account]);
    }
    let out = run_with_token(env, token, &args);
    out.success();
    out.json()["permissions"].clone()
}

on_every_server! {
    // R-GOV-1: a linked user in the IdP group gets the group's permissions with that token, and
    // loses them with the next token that no longer lists the IdP group. Nothing is stored as a
    // membership.
    fn r_gov_1_permissions_follow_the_idp_groups_of_each_token() {
        let erin_at = person("erin.idp", "acme.test");
        let env = server_reading_groups();
        env.acme();
        env.ok_as(ALICE, &["user", "create", erin_at.as_str()]);
        env.ok_as(ALICE, &["group", "create", "release-managers", "--permission", "accounts:read"]);
        let linked = env
            .ok_as(ALICE, &["group", "link-idp", "release-managers", "--idp-group", RELEASE, "-o", "json"])
            .json();
        assert_eq!(linked["idp_groups"], serde_json::json!([RELEASE]));

        let in_release = token_in_groups(erin_at.as_str(), &["/acme/dev", RELEASE]);
        assert_eq!(permissions(&env, &in_release, None), serde_json::json!(["accounts:read"]));
        run_with_token(&env, &in_release, &["account", "list"]).success();

        // The IdP drops erin from the group: the next token says so, and the permission is gone.
        let out_of_release = token_in_groups(erin_at.as_str(), &["/acme/dev"]);
        assert_eq!(permissions(&env, &out_of_release, None), serde_json::json!([]));
        let refused = run_with_token(&env, &out_of_release, &["account", "list"]);
        refused.failure(5);
        assert!(refused.stderr.contains("lacks the permission 'accounts:read'"), "{}", refused.stderr);

        // Never written as a manual membership.
        let group = env.ok_as(ALICE, &["group", "show", "release-managers", "-o", "json"]).json();
        assert_eq!(group["members"], serde_json::json!([]));
        let erin_id = user_id(&env, erin_at.as_str());
        let dump = env.dump();
        assert!(
            !dump.lines().any(|l| l.starts_with("group_members: ") && l.contains(&erin_id)),
            "{dump}"
        );

        // Unlinked: even a token that lists the IdP group grants nothing any more.
        env.ok_as(ALICE, &["group", "unlink-idp", "release-managers", "--idp-group", RELEASE]);
        assert_eq!(permissions(&env, &in_release, None), serde_json::json!([]));
    }

    // R-GOV-1, R-SEC-2: globex maps the same IdP group to its own admins. A user acting in acme
    // gets nothing from it, not even a user linked to both accounts; in globex that user does.
    fn r_gov_1_another_accounts_link_never_applies() {
        let erin_at = person("erin.other", "acme.test");
        let frank_at = person("frank.both", "acme.test");
        let gina_at = person("gina", "globex.test");
        let env = server_reading_groups();
        env.acme();
        env.ok(&["account", "create", "globex", "--owner", gina_at.as_str(), "--tenant", "default", "--role", "user-admin"]);
        env.ok_as(gina_at.as_str(), &["group", "link-idp", "admins", "--idp-group", RELEASE]);
        env.ok_as(ALICE, &["user", "create", erin_at.as_str()]);
        env.ok_as(ALICE, &["user", "create", frank_at.as_str()]);
        env.ok_as(gina_at.as_str(), &["user", "create", frank_at.as_str()]);

        let erin = token_in_groups(erin_at.as_str(), &[RELEASE]);
        assert_eq!(permissions(&env, &erin, None), serde_json::json!([]));
        run_with_token(&env, &erin, &["account", "list"]).failure(5);
        let elsewhere = run_with_token(&env, &erin, &["whoami", "--account", "globex"]);
        elsewhere.failure(1);
        assert!(elsewhere.stderr.contains("account 'globex' not found"), "{}", elsewhere.stderr);

        let frank = token_in_groups(frank_at.as_str(), &[RELEASE]);
        assert_eq!(permissions(&env, &frank, Some("acme")), serde_json::json!([]));
        run_with_token(&env, &frank, &["account", "list", "--account", "acme"]).failure(5);
        assert_eq!(permissions(&env, &frank, Some("globex")), serde_json::json!(["*"]));
    }

    // R-GOV-1: with `--oidc-username-claim`, a token without `email` signs in: the claim's value
    // links the subject to the platform user. With the default claim the same token is refused.
    fn r_gov_1_the_username_claim_signs_in_tokens_without_email() {
        let hank_at = person("hank.upn", "acme.test");
        let mut env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", hank_at.as_str()]);
        let no_email = token_with(hank_at.as_str(), serde_json::json!({ "email": null, "upn": hank_at.as_str() }));

        // Default claim `email`: nothing names the user (userinfo refuses these tokens).
        let refused = run_with_token(&env, &no_email, &["whoami"]);
        refused.failure(4);
        assert!(refused.stderr.contains("has no access"), "{}", refused.stderr);

        restart_server(&mut env, &[("PLAT_SERVER_OIDC_USERNAME_CLAIM", "upn")]);
        let me = run_with_token(&env, &no_email, &["whoami", "-o", "json"]);
        me.success();
        assert_eq!(me.json()["user"], hank_at.as_str());
        assert_eq!(me.json()["account"], "acme");

        // A claim whose value is not an e-mail can never name a platform user.
        let ivan_at = person("ivan.upn", "acme.test");
        let not_an_email = token_with(&ivan_at, serde_json::json!({ "email": null, "upn": "ivan" }));
        env.ok_as(ALICE, &["user", "create", &ivan_at]);
        let refused = run_with_token(&env, &not_an_email, &["whoami"]);
        refused.failure(4);
        assert!(refused.stderr.contains("--oidc-username-claim"), "{}", refused.stderr);
    }

    // R-GOV-1 with Keycloak's nested form: `realm_access.roles` as the groups claim.
    fn r_gov_1_the_groups_claim_may_be_a_dotted_path() {
        let june_at = person("june.kc", "acme.test");
        let mut env = TestEnv::new();
        restart_server(&mut env, &[("PLAT_SERVER_OIDC_GROUPS_CLAIM", "realm_access.roles")]);
        env.acme();
        env.ok_as(ALICE, &["user", "create", june_at.as_str()]);
        env.ok_as(ALICE, &["group", "link-idp", "developers", "--idp-group", "release-manager"]);
        let token = token_with(
            june_at.as_str(),
            serde_json::json!({ "realm_access": { "roles": ["release-manager"] } }),
        );
        let granted = permissions(&env, &token, None);
        assert!(granted.as_array().unwrap().iter().any(|p| p == "envs:write"), "{granted}");
    }
}

fn user_id(env: &TestEnv, email: &str) -> String {
    env.dump()
        .lines()
        .find(|l| l.starts_with("users: ") && l.contains(email))
        .and_then(|l| l.trim_start_matches("users: ").split(" | ").next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no user {email}"))
}

on_every_backend! {
    // R-GOV-1: the links are listed with the group, in the table and in JSON.
    fn r_gov_1_links_are_listed_in_group_show() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["group", "create", "release-managers", "--permission", "envs:write"]);
        env.ok_as(ALICE, &["group", "link-idp", "release-managers", "--idp-group", RELEASE]);
        // Linking again changes nothing.
        env.ok_as(ALICE, &["group", "link-idp", "release-managers", "--idp-group", RELEASE]);
        env.ok_as(ALICE, &["group", "link-idp", "release-managers", "--idp-group", "/acme/ops"]);
        let table = env.ok_as(ALICE, &["group", "show", "release-managers"]);
        assert!(
            table.stdout.lines().any(|l| l.starts_with("idp groups:") && l.ends_with("/acme/ops,/acme/release")),
            "{}",
            table.stdout
        );
        let json = env.ok_as(ALICE, &["group", "show", "release-managers", "-o", "json"]).json();
        assert_eq!(json["idp_groups"], serde_json::json!(["/acme/ops", RELEASE]));
        let unlinked = env
            .ok_as(ALICE, &["group", "unlink-idp", "release-managers", "--idp-group", "/acme/ops", "-o", "json"])
            .json();
        assert_eq!(unlinked["idp_groups"], serde_json::json!([RELEASE]));
        // Deleting the group takes its links along.
        env.ok_as(ALICE, &["group", "delete", "release-managers", "--yes"]);
        assert!(!env.dump().contains("group_idp_links: "), "{}", env.dump());
    }

    // R-GOV-1 bad input: an unknown group, an empty or padded IdP group, a caller who is not a
    // group admin, a link that does not exist: a clear error, its exit code, nothing changed.
    fn r_gov_1_bad_links_are_refused_and_change_nothing() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["user", "create", "carol@acme.test"]);
        env.ok_as(ALICE, &["group", "create", "release-managers", "--permission", "envs:write"]);
        env.ok_as(ALICE, &["group", "link-idp", "release-managers", "--idp-group", RELEASE]);
        let cases: [(&str, &[&str], &str, i32); 6] = [
            (ALICE, &["group", "link-idp", "ghosts", "--idp-group", RELEASE], "group 'ghosts' not found", 1),
            (ALICE, &["group", "link-idp", "release-managers", "--idp-group", ""], "the IdP group must not be empty", 1),
            (ALICE, &["group", "link-idp", "release-managers", "--idp-group", " /acme/x"], "invalid IdP group", 1),
            (ALICE, &["group", "unlink-idp", "release-managers", "--idp-group", "/acme/never"], "IdP group link '/acme/never' not found", 1),
            (ALICE, &["group", "unlink-idp", "release-managers", "--idp-group", ""], "the IdP group must not be empty", 1),
            ("carol@acme.test", &["group", "link-idp", "release-managers", "--idp-group", "/acme/carol"], "lacks the permission 'groups:write'", 5),
        ];
        for (user, args, message, code) in cases {
            let out = env.refused(Some(user), args, code);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
        // Without --idp-group: a usage error.
        env.run_as(ALICE, &["group", "link-idp", "release-managers"]).failure(2);
    }
}
