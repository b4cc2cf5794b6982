//! R-GOV-2: environments of protected templates wait for an approval before anything is
//! provisioned. Approvers hold `envs:approve`; nobody approves their own request. Pending
//! requests spend no quota and expire. Run with the real Terraform (PLAT_IAC_BIN).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ALICE, TestEnv};

const CAROL: &str = "carol@acme.test";
const DAVE: &str = "dave@acme.test";

/// acme (alice, admin) protects `demo` by policy; carol approves, dave develops.
fn acme_with_approvers(env: &TestEnv) {
    env.acme();
    env.ok_as(
        ALICE,
        &[
            "group",
            "create",
            "approvers",
            "--permission",
            "envs:approve",
        ],
    );
    env.ok_as(
        ALICE,
        &[
            "user",
            "create",
            CAROL,
            "--group",
            "developers",
            "--group",
            "approvers",
        ],
    );
    env.ok_as(ALICE, &["user", "create", DAVE, "--group", "developers"]);
    env.ok_as(ALICE, &["policy", "set", "--require-approval", "demo"]);
}

/// Starts `plat` as `user` without waiting for it (a CI job's `env up --wait`).
fn spawn_as(env: &TestEnv, user: &str, args: &[&str]) -> Child {
    let mut cmd = env.command(args);
    match env.server {
        Some(_) => cmd.env("PLAT_TOKEN", crate::services::idp().token(user)),
        None => cmd.env("PLAT_USER", user),
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start plat")
}

/// Waits until dave's `name` shows `status`.
fn wait_for_status(env: &TestEnv, name: &str, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = env.run_as(DAVE, &["env", "show", name, "-o", "json"]);
        if shown.code == 0 && shown.json()["status"] == status {
            return shown.json();
        }
        assert!(
            Instant::now() < deadline,
            "never {status}: {}",
            shown.transcript()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

on_every_backend! {
    fn r_gov_2_pending_spends_no_quota_runs_no_terraform_and_only_another_approver_starts_it() {
        let env = TestEnv::new();
        acme_with_approvers(&env);
        let policy = env.ok_as(ALICE, &["policy", "show", "-o", "json"]).json();
        assert_eq!(policy["require_approval"], serde_json::json!(["demo"]));

        let up = env.run_as(DAVE, &["env", "up", "web", "-o", "json"]);
        up.success();
        let pending = up.json();
        assert_eq!(pending["status"], "pending_approval", "{}", up.transcript());
        assert_eq!(pending["approval"]["required_by"], "policy");
        assert!(up.stderr.contains("plat env approve web"), "{}", up.stderr);
        assert!(!env.data_dir().join("envs").exists(), "Terraform ran: a work dir was made");
        let quota = env.ok_as(DAVE, &["env", "quota", "-o", "json"]).json();
        assert_eq!(quota["used"], 0, "a pending request spends no quota");

        // Without `envs:approve`, and on one's own request (even as an admin): refused.
        let lacking = env.refused(Some(DAVE), &["env", "approve", "web"], 5);
        assert!(lacking.stderr.contains("envs:approve"), "{}", lacking.stderr);
        env.ok_as(ALICE, &["env", "up", "alices", "-o", "json"]);
        let own = env.refused(Some(ALICE), &["env", "approve", "alices"], 5);
        assert!(own.stderr.contains("four eyes"), "{}", own.stderr);

        let approved = env
            .ok_as(CAROL, &["env", "approve", "web", "--comment", "CHG-7 ok", "-o", "json"])
            .json();
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["approval"]["decided_by"], CAROL);
        // Decided once: a second decision is refused.
        env.refused(Some(CAROL), &["env", "reject", "web"], 1);

        // Not waiting: dave's next `up` of it provisions what was approved.
        let ready = env.ok_as(DAVE, &["env", "up", "web", "-o", "json"]).json();
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["resources"].as_array().unwrap().len(), 4, "{ready}");
        let quota = env.ok_as(DAVE, &["env", "quota", "-o", "json"]).json();
        assert_eq!(quota["used"], 1, "the approval spent it, once");

        let shown = env.ok_as(DAVE, &["env", "show", "web"]);
        assert!(shown.stdout.contains(&format!("approved by {CAROL}")), "{}", shown.stdout);
        assert!(shown.stdout.contains("CHG-7 ok"), "{}", shown.stdout);
        let json = env.ok_as(DAVE, &["env", "show", "web", "-o", "json"]).json();
        assert_eq!(json["approval"]["decision"], "approved");
        assert_eq!(json["approval"]["comment"], "CHG-7 ok");
        assert!(json["approval"]["decided_at"].is_string());

        // A child lifts only its own requirement, never its parent's (policies only tighten).
        env.ok(&["policy", "set", "--require-approval", "demo"]);
        let lifted = env
            .ok_as(ALICE, &["policy", "set", "--no-require-approval", "demo", "-o", "json"])
            .json();
        assert_eq!(lifted["require_approval"], serde_json::json!(["demo"]));
        env.ok(&["policy", "set", "--no-require-approval", "demo"]);
        let open = env.ok_as(ALICE, &["policy", "show", "-o", "json"]).json();
        assert_eq!(open["require_approval"], serde_json::json!([]));
    }

    fn r_gov_2_up_wait_provisions_once_approved_and_exits_6_when_rejected() {
        let env = TestEnv::new();
        acme_with_approvers(&env);
        env.ok(&["policy", "set", "--envs-per-day", "5"]);

        let rejected_up = spawn_as(&env, DAVE, &["env", "up", "risky", "--wait"]);
        wait_for_status(&env, "risky", "pending_approval");
        env.ok_as(CAROL, &["env", "reject", "risky", "--comment", "not on a Friday"]);
        let out = crate::support::Outcome::from(rejected_up.wait_with_output().unwrap());
        out.failure(6);
        assert!(out.stderr.contains("rejected by carol@acme.test"), "{}", out.stderr);
        assert!(out.stderr.contains("not on a Friday"), "{}", out.stderr);
        let shown = env.ok_as(DAVE, &["env", "show", "risky", "-o", "json"]).json();
        assert_eq!(shown["status"], "rejected");
        assert_eq!(shown["approval"]["comment"], "not on a Friday");
        // The name is free again, and nothing was spent.
        assert_eq!(env.ok_as(DAVE, &["env", "quota", "-o", "json"]).json()["used"], 0);

        let approved_up = spawn_as(&env, DAVE, &["env", "up", "risky", "--wait", "-o", "json"]);
        wait_for_status(&env, "risky", "pending_approval");
        env.ok_as(CAROL, &["env", "approve", "risky"]);
        let out = crate::support::Outcome::from(approved_up.wait_with_output().unwrap());
        out.success();
        assert_eq!(out.json()["status"], "ready", "{}", out.transcript());
        assert!(out.stderr.contains("Approved"), "{}", out.stderr);
    }

    fn r_gov_2_undecided_requests_expire_and_the_reaper_closes_them() {
        let env = TestEnv::new();
        acme_with_approvers(&env);
        env.ok_as(DAVE, &["env", "up", "stale", "--idempotency-key", "job-1"]);
        let pending = env.ok_as(DAVE, &["env", "show", "stale"]);
        assert!(pending.stdout.contains("pending (required by policy, decide before"), "{}", pending.stdout);
        // A day later a retried job's `up --wait` gives up on it at once, before any reaper ran.
        let late_wait = env.run_with(
            &["env", "up", "stale", "--idempotency-key", "job-1", "--wait"],
            &[("PLAT_USER", DAVE), ("PLAT_CLOCK_OFFSET", "+25h")],
        );
        late_wait.failure(6);
        assert!(late_wait.stderr.contains("expired before anyone decided"), "{}", late_wait.stderr);
        match &env.server {
            None => {
                let reaped = env.run_with(&["env", "reap", "-o", "json"], &[("PLAT_CLOCK_OFFSET", "+25h")]);
                reaped.success();
                assert_eq!(reaped.json()[0]["status"], "expired", "{}", reaped.transcript());
                assert!(reaped.stderr.contains("nothing was provisioned"), "{}", reaped.stderr);
            }
            // A server replica a day later: its reaper closes the request.
            Some(server) => {
                let _replica = crate::services::Server::start_with(
                    &crate::services::idp().issuer,
                    server.database_url.clone(),
                    &env.root().join("replica"),
                    &[("PLAT_CLOCK_OFFSET", "+25h"), ("PLAT_REAPER_INTERVAL_SECONDS", "1")],
                );
                wait_for_status(&env, "stale", "expired");
            }
        }
        let shown = env.ok_as(DAVE, &["env", "show", "stale", "-o", "json"]).json();
        assert_eq!(shown["status"], "expired");
        assert_eq!(shown["approval"]["decision"], "expired");
        assert!(!env.data_dir().join("envs").exists(), "Terraform never ran");
        let late = env.refused(Some(CAROL), &["env", "approve", "stale"], 1);
        assert!(late.stderr.contains("decided already"), "{}", late.stderr);
    }
}

/// A template whose manifest says `approval: required`, and the GitHub Actions outputs of a
/// pending `up`.
#[test]
fn r_gov_2_a_protected_template_waits_and_github_actions_outputs_say_so() {
    let mut env = TestEnv::new();
    let root = env.root().join("templates");
    let prod = root.join("env").join("prod");
    std::fs::create_dir_all(&prod).unwrap();
    let demo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/env/demo"));
    for entry in std::fs::read_dir(demo).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), prod.join(entry.file_name())).unwrap();
    }
    let manifest = std::fs::read_to_string(prod.join("plat-template.yaml")).unwrap();
    let manifest = manifest.replace("name: demo", "name: prod") + "approval: required\n";
    std::fs::write(prod.join("plat-template.yaml"), manifest).unwrap();
    env.vars
        .insert("PLAT_TEMPLATE_PATH".into(), root.display().to_string());

    let shown = env
        .ok(&["env", "template", "show", "prod", "-o", "json"])
        .json();
    assert_eq!(shown["approval"], "required");

    let outputs = env.root().join("github_output");
    let summary = env.root().join("github_summary");
    let up = env.run_with(
        &["env", "up", "release", "--template", "prod", "-o", "json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    up.success();
    assert_eq!(up.json()["approval"]["required_by"], "template");
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.contains("env_name=release"), "{written}");
    assert!(written.contains("env_status=pending_approval"), "{written}");
    assert!(written.contains("env_approval_expires_at="), "{written}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("pending approval") && summary.contains("plat env approve release"),
        "{summary}"
    );
    assert!(!env.data_dir().join("envs").exists(), "Terraform ran");
    // The operator asked, so the operator may not approve it.
    env.refused(None, &["env", "approve", "release"], 5);
    // Withdrawing a pending request needs no Terraform either.
    let down = env
        .ok(&["env", "down", "release", "--yes", "-o", "json"])
        .json();
    assert_eq!(down["status"], "destroyed");
    assert!(!env.data_dir().join("envs").exists(), "Terraform ran");
}

/// An automation step cannot wait for an approver: its `env.up` of a protected template leaves
/// the request pending and fails before Terraform.
#[test]
fn r_gov_2_an_automation_step_stops_at_a_protected_template_before_terraform() {
    let env = TestEnv::new();
    env.ok(&["policy", "set", "--require-approval", "demo"]);
    let definition = "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: release }\nspec:\n  steps:\n    - id: env\n      action: env.up\n      input: { template: demo, name: release-1 }\n";
    let file = env.root().join("release.yaml");
    std::fs::write(&file, definition).unwrap();
    env.ok(&["automation", "apply", "-f", file.to_str().unwrap()]);
    let out = env.run(&["automation", "run", "release", "-o", "json"]);
    out.failure(1);
    let run = out.json();
    assert_eq!(run["steps"][0]["status"], "failed");
    assert!(
        run["error"].as_str().unwrap().contains("needs an approval"),
        "{run}"
    );
    let shown = env.ok(&["env", "show", "release-1", "-o", "json"]).json();
    assert_eq!(shown["status"], "pending_approval");
    assert!(!env.data_dir().join("envs").exists(), "Terraform ran");
}
