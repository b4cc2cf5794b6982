//! Issue 7 step actions that act on the platform: env.up / env.down with the real Terraform,
//! scaffold with a fixture template, scan over fixture manifests. They run as the run's owner,
//! so the platform's rules (quota R-ENV-2, permissions R-GRP-2) apply to them.

use crate::support::{ALICE, TestEnv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.root().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn definition(name: &str, steps: &str) -> String {
    format!(
        "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: {{ name: {name} }}\nspec:\n  parameters:\n    - {{ name: env, default: review-1 }}\n  steps:\n{steps}"
    )
}

const REVIEW_ENV: &str = r#"    - id: env
      action: env.up
      input: { template: demo, name: "${{ parameters.env }}", ttl: 45m, vars: { node_count: 3 } }
    - id: probe
      action: exec
      input: { command: [sh, -c, "echo api=${{ steps.env.output.outputs.kube_api_url }} until=${{ steps.env.output.expires_at }}"] }
    - id: audit
      action: scan
      input: { env: "${{ steps.env.output.name }}", fail_on: never }
    - id: down
      action: env.down
      input: { name: "${{ steps.env.output.name }}" }
"#;

on_every_backend! {
    fn an_automation_brings_an_env_up_uses_its_outputs_and_takes_it_down() {
        let env = TestEnv::new();
        let file = write(&env, "review.yaml", &definition("review", REVIEW_ENV));
        env.ok(&["automation", "apply", "-f", &file]);
        let out = env.run(&["automation", "run", "review", "-o", "json"]);
        out.success();
        let run = out.json();
        let up = &run["steps"][0]["output"];
        assert_eq!(up["name"], "review-1");
        assert_eq!(up["template"], "demo");
        let api = up["outputs"]["kube_api_url"].as_str().expect("the env's outputs").to_owned();
        assert!(!api.is_empty());
        assert_eq!(up["outputs"]["argocd_admin_password"], "(sensitive value)", "the record never holds a secret");
        let expires = up["expires_at"].as_str().unwrap();
        assert_eq!(
            run["steps"][1]["output"]["stdout"],
            format!("api={api} until={expires}\n"),
            "a later step reads the env's outputs"
        );
        let audit = &run["steps"][2]["output"];
        assert_eq!(audit["resources"], 4, "the env's state was scanned: {audit}");
        assert!(audit["counts"]["error"].is_number());
        assert_eq!(run["steps"][3]["output"], serde_json::json!({ "name": "review-1", "destroyed": true }));

        // The platform recorded both, as if the owner had typed `plat env up/down`.
        let envs = env.ok(&["env", "list", "--all", "-o", "json"]).json();
        assert_eq!(envs[0]["name"], "review-1");
        assert_eq!(envs[0]["status"], "destroyed");
        assert_eq!(envs[0]["owner"], run["owner"]);
        assert_eq!(envs[0]["params"]["node_count"], 3);

        // R-ENV-2: the run's owner has used today's environment; the next run is refused by the
        // quota, before Terraform, and the steps after it do not run.
        let out = env.run(&["automation", "run", "review", "-p", "env=review-2", "-o", "json"]);
        out.failure(1);
        let refused = out.json();
        assert_eq!(refused["steps"][0]["status"], "failed");
        assert!(refused["error"].as_str().unwrap().contains("1/1 used today"), "{refused}");
        assert_eq!(refused["steps"][3]["status"], "skipped");
        assert_eq!(env.ok(&["env", "list", "-o", "json"]).json(), serde_json::json!([]));
    }
}

#[test]
fn a_scan_step_counts_findings_and_fails_at_its_threshold() {
    let env = TestEnv::new();
    let defects = format!("{FIXTURES}/scan/manifests/defects.yaml");
    let clean = format!("{FIXTURES}/scan/manifests/clean.yaml");
    let steps = format!(
        "    - id: lint\n      action: scan\n      continue_on_error: true\n      input: {{ path: \"{defects}\" }}\n    - id: report\n      action: exec\n      input: {{ command: [echo, \"errors=${{{{ steps.lint.output.counts.error }}}}\"] }}\n    - id: clean\n      action: scan\n      input: {{ path: \"{clean}\", fail_on: warning }}\n"
    );
    let file = write(&env, "lint.yaml", &definition("lint", &steps));
    env.ok(&["automation", "apply", "-f", &file]);
    let run = env.ok(&["automation", "run", "lint", "-o", "json"]).json();
    let lint = &run["steps"][0];
    assert_eq!(lint["status"], "failed", "{run}");
    let errors = lint["output"]["counts"]["error"].as_u64().unwrap();
    assert!(errors > 0, "{lint}");
    assert!(
        lint["error"]
            .as_str()
            .unwrap()
            .contains("at or above error"),
        "{lint}"
    );
    assert_eq!(
        run["steps"][1]["output"]["stdout"],
        format!("errors={errors}\n")
    );
    assert_eq!(run["steps"][2]["status"], "succeeded");
    assert_eq!(run["steps"][2]["output"]["findings"], 0);
    let logs = env
        .ok(&["automation", "logs", run["id"].as_str().unwrap()])
        .stdout;
    assert!(
        logs.contains("[lint] error PLAT"),
        "findings are logged: {logs}"
    );
}

#[test]
fn a_scaffold_step_renders_a_template_that_later_steps_use() {
    let env = TestEnv::new();
    let target = env.root().join("payments");
    let steps = format!(
        "    - id: new\n      action: scaffold\n      input: {{ template: \"{FIXTURES}/scaffold/full\", target: \"{}\", values: {{ name: payments, replicas: 3 }} }}\n    - id: look\n      action: exec\n      input: {{ command: [cat, \"${{{{ steps.new.output.path }}}}/.plat-answers.yml\"] }}\n    - id: lint\n      action: scan\n      input: {{ path: \"${{{{ steps.new.output.path }}}}\", fail_on: never }}\n",
        target.display()
    );
    let file = write(&env, "new.yaml", &definition("new-service", &steps));
    env.ok(&["automation", "apply", "-f", &file]);
    let run = env
        .ok(&["automation", "run", "new-service", "-o", "json"])
        .json();
    let new = &run["steps"][0]["output"];
    assert_eq!(new["path"], target.display().to_string());
    let files: Vec<&str> = new["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&".plat-answers.yml"), "{files:?}");
    for file in &files {
        assert!(target.join(file).exists(), "{file} is on disk");
    }
    let answers = run["steps"][1]["output"]["stdout"].as_str().unwrap();
    assert!(answers.contains("name: payments"), "{answers}");
    assert!(answers.contains("replicas: 3"), "{answers}");
    assert_eq!(run["steps"][2]["status"], "succeeded");
}

#[test]
fn platform_steps_need_the_owners_permissions() {
    let env = TestEnv::new();
    env.acme_managing_automations();
    let steps = format!(
        "    - id: lint\n      action: scan\n      input: {{ path: \"{FIXTURES}/scan/manifests/clean.yaml\" }}\n"
    );
    let file = write(&env, "lint.yaml", &definition("lint", &steps));
    env.ok_as(ALICE, &["automation", "apply", "-f", &file]);
    // Runs automations, but was never given `scan:run` (developers have it).
    env.ok_as(
        ALICE,
        &[
            "group",
            "create",
            "schedulers",
            "--permission",
            "automations:run",
            "--permission",
            "automations:read",
        ],
    );
    env.ok_as(
        ALICE,
        &["user", "create", "dave@acme.test", "--group", "schedulers"],
    );
    let out = env.run_as(
        "dave@acme.test",
        &["automation", "run", "lint", "-o", "json"],
    );
    out.failure(1);
    let error = out.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("lacks the permission 'scan:run'"), "{error}");
    env.ok_as(
        ALICE,
        &["user", "create", "erin@acme.test", "--group", "developers"],
    );
    env.ok_as("erin@acme.test", &["automation", "run", "lint"]);
}

#[test]
fn platform_step_inputs_are_checked_at_apply_with_their_line() {
    let env = TestEnv::new();
    env.ok(&["whoami"]);
    for (name, steps, line, says) in [
        (
            "up.yaml",
            "    - id: env\n      action: env.up\n      input: { name: x }\n",
            10,
            "the env.up action needs a `template`",
        ),
        (
            "ttl.yaml",
            "    - id: env\n      action: env.up\n      input: { template: demo, name: x, ttl: forever }\n",
            10,
            "`ttl` must be a duration",
        ),
        (
            "down.yaml",
            "    - id: env\n      action: env.down\n      input: { name: x, force: true }\n",
            10,
            "unknown env.down input 'force'",
        ),
        (
            "scaffold.yaml",
            "    - id: new\n      action: scaffold\n      input: { template: full }\n",
            10,
            "the scaffold action needs a `target`",
        ),
        (
            "scan.yaml",
            "    - id: lint\n      action: scan\n      input: { path: k8s, env: review-1 }\n",
            10,
            "exactly one of `path`",
        ),
        (
            "fail.yaml",
            "    - id: lint\n      action: scan\n      input: { path: k8s, fail_on: critical }\n",
            10,
            "`fail_on` is one of error, warning, never",
        ),
    ] {
        let file = write(&env, name, &definition("checked", steps));
        let out = env.refused(None, &["automation", "apply", "-f", &file], 1);
        let location = format!("error: {file}:{line}: ");
        assert!(
            out.stderr.starts_with(&location),
            "{name}: expected {location}\n{}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
    }
}

#[test]
fn an_env_up_stopped_by_its_timeout_stops_terraform_cleanly_and_leaves_the_env_failed() {
    let mut env = TestEnv::new();
    let templates = env.root().join("templates/env");
    std::fs::create_dir_all(&templates).unwrap();
    std::os::unix::fs::symlink(format!("{FIXTURES}/iac/slow"), templates.join("slow")).unwrap();
    env.vars.insert(
        "PLAT_TEMPLATE_PATH".into(),
        env.root().join("templates").display().to_string(),
    );
    let steps = "    - id: env\n      action: env.up\n      timeout: 5s\n      input: { template: slow, name: slowpoke }\n";
    let file = write(&env, "slow.yaml", &definition("slow", steps));
    env.ok(&["automation", "apply", "-f", &file]);
    let started = std::time::Instant::now();
    let out = env.run(&["automation", "run", "slow", "-o", "json"]);
    out.failure(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(45),
        "Terraform was stopped, not waited for"
    );
    assert_eq!(out.json()["steps"][0]["error"], "timed out after 5s");
    // Recorded failed (not left `provisioning`), with its state unlocked: down destroys it.
    let shown = env.ok(&["env", "show", "slowpoke", "-o", "json"]).json();
    assert_eq!(shown["status"], "failed", "{shown}");
    env.ok(&["env", "down", "slowpoke", "--yes"]);
}

/// A detached run is executed by the server's workers: its env steps act as the run's owner,
/// and the env's Terraform state lands in the platform, where any machine (here, the CLI) can
/// destroy what the worker made.
#[test]
fn a_server_worker_runs_env_steps_as_the_owner_and_keeps_the_state_in_the_platform() {
    crate::support::with_backend(crate::support::Backend::ServerPostgres, || {
        let env = TestEnv::new();
        let steps = r#"    - id: env
      action: env.up
      input: { template: demo, name: "${{ parameters.env }}", ttl: 45m }
"#;
        let file = write(&env, "worker.yaml", &definition("worker-env", steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let queued = env
            .ok(&["automation", "run", "worker-env", "--detach", "-o", "json"])
            .json();
        let id = queued["id"].as_str().unwrap().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let run = loop {
            let run = env
                .ok(&["automation", "runs", "worker-env", "-o", "json"])
                .json()[0]
                .clone();
            if run["status"] != "queued" && run["status"] != "running" {
                break run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker did not finish: {run}"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        };
        assert_eq!(run["id"], id.as_str());
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["steps"][0]["output"]["name"], "review-1");

        let envs = env.ok(&["env", "list", "-o", "json"]).json();
        assert_eq!(envs[0]["name"], "review-1");
        assert_eq!(envs[0]["owner"], run["owner"]);
        env.ok(&["env", "down", "review-1", "--yes"]);
        let logs = env.ok(&["env", "logs", "review-1"]).stdout;
        assert!(
            logs.contains("Destroy complete! Resources: 4 destroyed."),
            "the CLI destroyed from the platform's state: {logs}"
        );
    });
}
