//! The Backstage modules (backstage/) in a real Backstage backend against a real `plat server`:
//! this test sets up the platform (users, a service identity, a policy), then runs the
//! workspace's end-to-end jest test (backstage/e2e), which starts the scaffolder and catalog
//! plugins from npm with plat's modules and drives them over HTTP.

use std::path::Path;
use std::process::Command;

use crate::services::{Idp, Server};
use crate::support::{ALICE, BIN, Outcome, TestEnv};

const SERVICE: &str = "backstage@acme.test";

/// The automation the `plat-automation` template runs.
const GREET: &str = r#"apiVersion: plat.dev/v1
kind: Automation
metadata: { name: greet }
spec:
  parameters:
    - { name: who, type: string }
  steps:
    - id: say
      action: exec
      input: { command: ["sh", "-c", "echo hello ${{ parameters.who }}"] }
"#;

#[test]
fn scaffolder_actions_and_catalog_provider_in_a_backstage_backend_r_gov_5() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("backstage");
    assert!(
        workspace
            .join("node_modules/@backstage/backend-test-utils")
            .exists(),
        "run `npm ci` in {} (scripts/test.sh does)",
        workspace.display()
    );
    // The service token is handed to Backstage once: a private IdP whose tokens outlive the run.
    let idp = Idp::spawn(&[("IDP_ACCESS_TOKEN_TTL", "3600")]);
    let mut env = TestEnv::new();
    let database = format!(
        "sqlite://{}?mode=rwc",
        env.root().join("server.db").display()
    );
    let server = Server::start_trusting(&idp.issuer, database, &env.root().join("server"));
    let server_url = server.url.clone();
    env.use_server(server);
    let plat = |user: &str, args: &[&str]| -> Outcome {
        let outcome = Outcome::from(
            env.command(args)
                .env("PLAT_TOKEN", idp.token(user))
                .output()
                .expect("run plat"),
        );
        outcome.success();
        outcome
    };

    plat(
        "operator@localhost",
        &[
            "account",
            "create",
            "acme",
            "--owner",
            ALICE,
            "--tenant",
            "default",
            "--role",
            "user-admin",
            "--role",
            "automation-manager",
        ],
    );
    // Two environments a day per user: one kept and torn down later, one full lifecycle; the
    // third is refused (exit 6).
    plat(
        "operator@localhost",
        &["policy", "set", "--envs-per-day", "2"],
    );
    plat(ALICE, &["user", "create", SERVICE]);
    plat(
        ALICE,
        &[
            "group",
            "create",
            "backstage",
            "--permission",
            "users:act-for",
            "--permission",
            "envs:read",
            "--permission",
            "envs:write",
            "--permission",
            "scan:read",
            "--permission",
            "scan:run",
        ],
    );
    plat(ALICE, &["group", "add-member", "backstage", SERVICE]);
    plat(
        ALICE,
        &["user", "create", "carol@acme.test", "--group", "viewers"],
    );
    let automation = env.root().join("greet.yaml");
    std::fs::write(&automation, GREET).unwrap();
    plat(
        ALICE,
        &["automation", "apply", "-f", automation.to_str().unwrap()],
    );
    plat(SERVICE, &["whoami"]);

    let iac_bin = std::env::var("PLAT_IAC_BIN").unwrap_or_else(|_| "terraform".into());
    let output = Command::new("npm")
        .args(["test", "--", "--ci"])
        .current_dir(workspace.join("e2e"))
        .env("CI", "true")
        .env("PLAT_E2E_SERVER", &server_url)
        .env("PLAT_E2E_BINARY", BIN)
        .env("PLAT_E2E_TOKEN", idp.token(SERVICE))
        .env("PLAT_E2E_ACCOUNT", "acme")
        .env("PLAT_E2E_IAC_BIN", iac_bin)
        .output()
        .expect("run npm test in backstage/e2e");
    let jest = Outcome::from(output);
    assert_eq!(
        jest.code,
        0,
        "the Backstage end-to-end test failed:\n{}",
        jest.transcript()
    );

    // The environments the tasks made are alice's, not the service's.
    let envs = plat(ALICE, &["env", "list", "--all", "-o", "json"]).json();
    let owners: Vec<_> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["owner"].as_str().unwrap()))
        .collect();
    assert!(
        owners.contains(&("bs-kept", ALICE)) && owners.contains(&("bs-life", ALICE)),
        "{owners:?}"
    );
}
