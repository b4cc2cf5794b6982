//! DOMAIN.md section 2: environments, run with the real Terraform binary (PATH or PLAT_IAC_BIN).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{ALICE, TestEnv};

fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iac"))
}

/// Adds the test templates (`failing`, `slow`) next to the built-in `demo`.
fn with_test_templates(env: &mut TestEnv) {
    let root = env.root().join("templates");
    std::fs::create_dir_all(root.join("env")).unwrap();
    for name in ["failing", "slow"] {
        std::os::unix::fs::symlink(fixtures().join(name), root.join("env").join(name)).unwrap();
    }
    env.vars
        .insert("PLAT_TEMPLATE_PATH".into(), root.display().to_string());
}

fn seconds_between(from: &str, to: &str) -> i64 {
    let from: jiff::Timestamp = from.parse().unwrap();
    let to: jiff::Timestamp = to.parse().unwrap();
    to.as_second() - from.as_second()
}

on_every_backend! {
    fn r_env_1_an_environment_lives_30_minutes_by_default_and_the_reaper_destroys_it() {
        let env = TestEnv::new();
        let up = env.ok(&["env", "up", "dev", "-o", "json"]).json();
        assert_eq!(up["status"], "ready");
        assert_eq!(seconds_between(up["created_at"].as_str().unwrap(), up["expires_at"].as_str().unwrap()), 30 * 60);
        assert_eq!(up["resources"].as_array().unwrap().len(), 4, "{up}");

        // Nothing has expired yet.
        let early = env.ok(&["env", "reap", "-o", "json"]).json();
        assert_eq!(early, serde_json::json!([]));
        match &env.server {
            // Two hours later `plat env reap` destroys it.
            None => {
                let later = env.run_with(&["env", "reap", "-o", "json"], &[("PLAT_CLOCK_OFFSET", "+2h")]);
                later.success();
                assert_eq!(later.json()[0]["status"], "destroyed", "{}", later.transcript());
            }
            // A second server replica, two hours later, finds it expired and destroys it from
            // the state the platform keeps: the machine that created it is not needed (R-ENV-4).
            Some(server) => {
                let replica_dir = env.root().join("replica");
                let _replica = crate::services::Server::start_with(
                    &crate::services::idp().issuer,
                    server.database_url.clone(),
                    &replica_dir,
                    &[("PLAT_CLOCK_OFFSET", "+2h"), ("PLAT_REAPER_INTERVAL_SECONDS", "1")],
                );
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while env.ok(&["env", "list", "-o", "json"]).json() != serde_json::json!([]) {
                    assert!(std::time::Instant::now() < deadline, "the replica's reaper did not destroy the env");
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            }
        }
        let all = env.ok(&["env", "list", "--all", "-o", "json"]).json();
        assert_eq!(all[0]["status"], "destroyed");
        assert_eq!(all[0]["resources"], serde_json::json!([]));
    }

    fn r_env_2_one_environment_per_user_per_day_and_policies_only_tighten() {
        let env = TestEnv::new();
        env.acme();
        env.ok_as(ALICE, &["env", "up", "first"]);
        let before = env.dump();
        let refused = env.refused(Some(ALICE), &["env", "up", "second"], 6);
        assert!(refused.stderr.contains("1/1 used today"), "{}", refused.stderr);
        assert_eq!(before, env.dump());
        // Destroying does not give the quota back.
        env.ok_as(ALICE, &["env", "down", "first", "--yes"]);
        env.refused(Some(ALICE), &["env", "up", "second"], 6);
        let quota = env.ok_as(ALICE, &["env", "quota", "-o", "json"]).json();
        assert_eq!((quota["used"].as_i64(), quota["limit"].as_i64()), (Some(1), Some(1)));

        // acme may tighten its own policy, never loosen what its parent allows.
        env.refused(Some(ALICE), &["policy", "set", "--envs-per-day", "5"], 6);
        env.refused(Some(ALICE), &["policy", "set", "--ttl-max", "9h"], 6);
        let tightened = env.ok_as(ALICE, &["policy", "set", "--ttl-max", "1h", "-o", "json"]).json();
        assert_eq!(tightened["ttl_max_seconds"], 3600);
        // The platform's root raises the quota for everyone; acme's 1h cap still holds.
        env.ok(&["policy", "set", "--envs-per-day", "3"]);
        let up = env.run_as(ALICE, &["env", "up", "second", "--ttl", "2h"]);
        up.failure(6);
        assert!(up.stderr.contains("maximum of 1h"), "{}", up.stderr);
        env.ok_as(ALICE, &["env", "up", "second", "--ttl", "45m"]);
    }

    fn r_env_3_refusals_and_bad_input_provision_nothing() {
        let env = TestEnv::new();
        env.ok(&["whoami"]);
        let before = env.dump();
        for (args, code, says) in [
            (vec!["env", "up", "x", "--template", "nope"], 1, "template `nope` not found"),
            (vec!["env", "up", "x", "--param", "colour=red"], 1, "unknown parameter `colour`"),
            (vec!["env", "up", "x", "--param", "node_count=many"], 1, "node_count"),
            (vec!["env", "up", "x", "--param", "node_count=9"], 1, "node_count"),
            (vec!["env", "up", "x", "--ttl", "9h"], 6, "exceeds the maximum"),
            (vec!["env", "up", "x", "--ttl", "soon"], 1, "invalid duration"),
            (vec!["env", "up", "Bad_Name"], 1, "environment name"),
        ] {
            let out = env.refused(None, &args, code);
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        }
        let missing = env.run_with(&["env", "up", "x"], &[("PLAT_IAC_BIN", "/nonexistent/terraform")]);
        missing.failure(1);
        assert!(missing.stderr.contains("hint:"), "{}", missing.stderr);
        assert_eq!(before, env.dump(), "nothing recorded, no quota spent");
        assert!(!env.data_dir().join("envs").exists(), "no work dir made");
        // Down of an env that does not exist is not an error (idempotent).
        env.ok(&["env", "down", "ghost", "--yes"]);
    }

    fn r_env_5_every_resource_carries_the_platform_labels() {
        let env = TestEnv::new();
        let up = env.ok(&["env", "up", "labelled", "-o", "json"]).json();
        let labels = &up["outputs"]["labels"];
        for key in ["app.kubernetes.io/part-of", "appgear.io/tier", "appgear.io/suite", "appgear.io/topology", "appgear.io/workspace-id", "appgear.io/tenant-id"] {
            assert!(labels[key].is_string(), "{key} missing: {labels}");
        }
        assert_eq!(labels["appgear.io/workspace-id"], "labelled");
        assert_eq!(labels["appgear.io/tenant-id"], "default");
        // Sensitive outputs never reach the platform or stdout.
        assert_eq!(up["outputs"]["argocd_admin_password"], "(sensitive value)");
    }

    fn env_up_no_wait_returns_at_once_and_terraform_goes_on_in_the_background() {
        let env = TestEnv::new();
        let started = env.ok(&["env", "up", "later", "--no-wait", "-o", "json"]).json();
        assert_eq!(started["status"], "provisioning");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            let shown = env.ok(&["env", "show", "later", "-o", "json"]).json();
            if shown["status"] == "ready" {
                assert_eq!(shown["resources"].as_array().unwrap().len(), 4, "{shown}");
                break;
            }
            assert_eq!(shown["status"], "provisioning", "{shown}");
            assert!(std::time::Instant::now() < deadline, "still provisioning: {shown}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        env.ok(&["env", "down", "later", "--yes"]);
    }

    fn env_up_is_idempotent_with_a_key_and_names_are_unique() {
        let env = TestEnv::new();
        env.ok(&["policy", "set", "--envs-per-day", "5"]);
        let first = env.ok(&["env", "up", "ci-1", "--idempotency-key", "run-42", "-o", "json"]).json();
        let again = env.ok(&["env", "up", "ci-1", "--idempotency-key", "run-42", "-o", "json"]).json();
        assert_eq!(first["id"], again["id"]);
        let quota = env.ok(&["env", "quota", "-o", "json"]).json();
        assert_eq!(quota["used"], 1, "a retried job spends the quota once");
        let clash = env.refused(None, &["env", "up", "ci-1"], 1);
        assert!(clash.stderr.contains("already exists"), "{}", clash.stderr);
        let extended = env.ok(&["env", "extend", "ci-1", "2h", "-o", "json"]).json();
        assert!(seconds_between(extended["created_at"].as_str().unwrap(), extended["expires_at"].as_str().unwrap()) >= 7200 - 5);
        env.refused(None, &["env", "extend", "ci-1", "9h"], 6);
        // Extending by less than the env has left never shortens its life.
        let kept = env.ok(&["env", "extend", "ci-1", "30m", "-o", "json"]).json();
        assert_eq!(kept["expires_at"], extended["expires_at"]);
    }
}

/// Issue 14 (lifecycle speed): embedded, the second env of a template starts at `apply` with
/// what the first env's `terraform init` did, and each env keeps its own state, outside its
/// work dir.
#[test]
fn a_second_env_of_a_template_reuses_the_first_init_and_keeps_its_own_state() {
    let env = TestEnv::new();
    env.ok(&["policy", "set", "--envs-per-day", "5"]);
    env.ok(&["env", "up", "first"]);
    let first = env.ok(&["env", "logs", "first"]).stdout;
    assert!(first.contains("plat: init started"), "{first}");

    env.ok(&["env", "up", "second"]);
    let second = env.ok(&["env", "logs", "second"]).stdout;
    assert!(!second.contains("plat: init started"), "{second}");
    assert!(second.contains("plat: init reused"), "{second}");
    assert!(second.contains("\"type\":\"apply_complete\""), "{second}");
    let state =
        |name: &str| std::fs::read_to_string(crate::support::local_state_file(&env, name)).unwrap();
    assert!(
        state("first").contains("first"),
        "the first env's own state"
    );
    assert!(
        state("second").contains("second"),
        "the second env's own state"
    );

    env.ok(&["env", "down", "second", "--yes"]);
    let down = env.ok(&["env", "logs", "second"]).stdout;
    assert!(
        down.contains("Destroy complete! Resources: 4 destroyed."),
        "{down}"
    );
    assert!(
        state("first").contains("terraform_data"),
        "the first env is untouched"
    );
    env.ok(&["env", "down", "first", "--yes"]);
}

/// Issue 14: one label domain, configurable. The platform labels, and what spend sums by, follow
/// `PLAT_LABEL_DOMAIN`; a domain that is no DNS name is refused before anything is recorded.
#[test]
fn r_env_5_the_platform_labels_follow_the_configured_label_domain() {
    let mut env = TestEnv::new();
    env.ok(&["account", "list"]);
    env.vars
        .insert("PLAT_LABEL_DOMAIN".into(), "Not A Domain".into());
    let refused = env.run(&["env", "up", "domained"]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("invalid label domain"),
        "{}",
        refused.stderr
    );
    assert!(!env.dump().contains("domained"), "nothing recorded");

    env.vars
        .insert("PLAT_LABEL_DOMAIN".into(), "example.org".into());
    let up = env.ok(&["env", "up", "domained", "-o", "json"]).json();
    let labels = &up["outputs"]["labels"];
    assert_eq!(labels["example.org/workspace-id"], "domained", "{labels}");
    assert_eq!(labels["example.org/tenant-id"], "default", "{labels}");
    assert!(labels.get("appgear.io/workspace-id").is_none(), "{labels}");
    let spend = env
        .ok(&[
            "spend",
            "--by",
            "label:example.org/workspace-id",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(spend["lines"][0]["key"], "domained", "{spend}");
    env.ok(&["env", "down", "domained", "--yes"]);
}

#[test]
fn r_env_3_a_failed_up_keeps_its_state_costs_no_quota_and_down_destroys_it() {
    let mut env = TestEnv::new();
    with_test_templates(&mut env);
    let out = env.run(&["env", "up", "broken", "--template", "failing"]);
    out.failure(1);
    assert!(
        out.stderr.contains("main.tf:"),
        "Terraform's diagnostic with file:line: {}",
        out.stderr
    );
    let shown = env.ok(&["env", "show", "broken", "-o", "json"]).json();
    assert_eq!(shown["status"], "failed");
    let quota = env.ok(&["env", "quota", "-o", "json"]).json();
    assert_eq!(quota["used"], 0, "a failed up does not count");
    let state = std::fs::read_to_string(crate::support::local_state_file(&env, "broken")).unwrap();
    assert!(
        state.contains("terraform_data"),
        "the first resource is in the kept state"
    );
    env.ok(&["env", "down", "broken", "--yes"]);
    env.ok(&["env", "up", "fixed"]);
}

#[test]
fn ctrl_c_during_apply_stops_terraform_cleanly_and_marks_the_env_failed() {
    let mut env = TestEnv::new();
    with_test_templates(&mut env);
    let mut child = env
        .command(&["env", "up", "slowpoke", "--template", "slow"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if line.contains("terraform apply") {
            break;
        }
        line.clear();
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    let shown = env.ok(&["env", "show", "slowpoke", "-o", "json"]).json();
    assert_eq!(shown["status"], "failed");
    env.ok(&["env", "down", "slowpoke", "--yes"]);
}

#[test]
fn env_up_in_github_actions_writes_outputs_masks_secrets_and_a_summary() {
    let env = TestEnv::new();
    let outputs = env.root().join("github_output");
    let summary = env.root().join("github_summary");
    let out = env.run_with(
        &["env", "up", "gha"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    out.success();
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.contains("env_name=gha"), "{written}");
    assert!(written.contains("env_expires_at="), "{written}");
    let password = written
        .lines()
        .find_map(|l| l.strip_prefix("output_argocd_admin_password="))
        .expect("sensitive output for the job");
    // On stderr: stdout carries only data (issue 18).
    assert!(
        out.stderr.contains(&format!("::add-mask::{password}")),
        "masked before use: {}",
        out.stderr
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("### Environment `gha`") && !summary.contains(password),
        "{summary}"
    );
}

#[test]
fn env_list_warns_when_an_environment_is_about_to_expire() {
    let env = TestEnv::new();
    env.ok(&["env", "up", "brief", "--ttl", "2m"]);
    let listed = env.ok(&["env", "list"]);
    assert!(
        listed
            .stderr
            .contains("warning: environment 'brief' expires in"),
        "{}",
        listed.stderr
    );
    assert!(listed.stdout.contains("brief"));
}

#[test]
fn env_up_streams_ndjson_events() {
    let env = TestEnv::new();
    let out = env.ok(&["env", "up", "machine", "--events", "ndjson"]);
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["type"] == "apply_complete"),
        "{}",
        out.stdout
    );
    assert_eq!(events.last().unwrap()["type"], "env");
}

/// A Git repository of templates, made with the real `git`: `env/gitdemo` whose output says
/// which version of the template ran.
fn template_repo(root: &std::path::Path, version: &str) -> std::path::PathBuf {
    let repo = root.join("template-repo");
    let template = repo.join("env/gitdemo");
    std::fs::create_dir_all(&template).unwrap();
    std::fs::write(
        template.join("plat-template.yaml"),
        "name: gitdemo\ndescription: A template kept in Git.\nttl:\n  default: 10m\n  max: 1h\n",
    )
    .unwrap();
    std::fs::write(
        template.join("main.tf"),
        format!("output \"version\" {{ value = \"{version}\" }}\n"),
    )
    .unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t.test",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&repo)
            .env("HOME", root)
            .stdout(Stdio::null())
            .status()
            .expect("git is installed (scripts/install-deps.sh --test)");
        assert!(status.success(), "git {args:?}");
    };
    if !repo.join(".git").exists() {
        git(&["init", "-q"]);
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", version]);
    repo
}

#[test]
fn templates_come_from_git_repositories_and_stay_usable_offline() {
    let mut env = TestEnv::new();
    let repo = template_repo(env.root(), "v1");
    env.vars.insert(
        "PLAT_TEMPLATE_REPOS".into(),
        format!("file://{}#main", repo.display()),
    );

    let listed = env.ok(&["env", "template", "list", "-o", "json"]).json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"gitdemo") && names.contains(&"demo"),
        "{names:?}"
    );
    let up = env
        .ok(&[
            "env",
            "up",
            "from-git",
            "--template",
            "gitdemo",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(up["outputs"]["version"], "v1", "{up}");

    // A new commit is picked up once the clone is older than PLAT_TEMPLATE_REFRESH.
    template_repo(env.root(), "v2");
    env.ok(&["env", "down", "from-git", "--yes"]);
    env.ok(&["policy", "set", "--envs-per-day", "5"]);
    let cached = env
        .ok(&["env", "up", "cached", "--template", "gitdemo", "-o", "json"])
        .json();
    assert_eq!(
        cached["outputs"]["version"], "v1",
        "a fresh clone is reused: {cached}"
    );
    let refreshed = env.run_with(
        &[
            "env",
            "up",
            "refreshed",
            "--template",
            "gitdemo",
            "-o",
            "json",
        ],
        &[("PLAT_TEMPLATE_REFRESH", "0")],
    );
    refreshed.success();
    assert_eq!(
        refreshed.json()["outputs"]["version"],
        "v2",
        "{}",
        refreshed.transcript()
    );

    // The repository gone: the last clone still serves, with a warning saying so.
    std::fs::remove_dir_all(&repo).unwrap();
    let offline = env.run_with(
        &["env", "down", "refreshed", "--yes"],
        &[("PLAT_TEMPLATE_REFRESH", "0")],
    );
    offline.success();
    assert!(
        offline
            .stderr
            .contains("warning: using the last clone of template repository"),
        "{}",
        offline.transcript()
    );

    // A repository that never could be cloned is skipped with a warning; the rest still works.
    let missing = env.run_with(
        &["env", "template", "list"],
        &[("PLAT_TEMPLATE_REPOS", "file:///nonexistent/templates.git")],
    );
    missing.success();
    assert!(
        missing
            .stderr
            .contains("warning: skipping template repository file:///nonexistent/templates.git"),
        "{}",
        missing.transcript()
    );
    assert!(missing.stdout.contains("demo"), "{}", missing.transcript());
}

on_every_backend! {
    fn env_logs_are_kept_by_the_platform_for_any_machine_and_after_destroy() {
        let env = TestEnv::new();
        env.ok(&["env", "up", "logged"]);
        let here = env.ok(&["env", "logs", "logged"]).stdout;
        assert!(here.contains("\"type\":\"apply_complete\""), "{here}");

        // Another machine has no work dir (embedded, the state dir beside it stays): the
        // platform's copy answers.
        for entry in std::fs::read_dir(env.data_dir().join("envs/platform")).unwrap().flatten() {
            if entry.path().is_dir() && entry.path().extension().is_none_or(|x| x != "state") {
                std::fs::remove_dir_all(entry.path()).unwrap();
            }
        }
        let elsewhere = env.ok(&["env", "logs", "logged"]).stdout;
        assert!(elsewhere.contains("\"type\":\"apply_complete\""), "{elsewhere}");

        env.ok(&["env", "down", "logged", "--yes"]);
        let after = env.ok(&["env", "logs", "logged", "-f"]).stdout;
        assert!(after.contains("\"type\":\"apply_complete\""), "the up run is still there: {after}");
        assert!(after.contains("Destroy complete! Resources: 4 destroyed."), "{after}");

        let unknown = env.run(&["env", "logs", "never-made"]);
        unknown.failure(1);
        assert!(unknown.stderr.starts_with("error: environment 'never-made' not found"), "{}", unknown.transcript());
    }
}

/// The README's cron use: one `plat env reap` run by the operator destroys every expired env
/// of the accounts below it, recording each in its own account (R-ENV-1, R-ACC-6), and one that
/// cannot be destroyed does not stop the others.
#[test]
fn r_env_1_reap_destroys_expired_envs_of_sub_accounts_in_their_own_account_and_goes_on_past_failures()
 {
    let mut env = TestEnv::new();
    let templates = env.root().join("templates");
    std::fs::create_dir_all(templates.join("env")).unwrap();
    std::os::unix::fs::symlink(fixtures().join("params"), templates.join("env/params")).unwrap();
    env.ok(&["policy", "set", "--envs-per-day", "5"]);
    env.ok(&[
        "account",
        "create",
        "kid",
        "--owner",
        "kid@kid.test",
        "--tenant",
        "default",
    ]);
    env.ok_as("kid@kid.test", &["env", "up", "k1"]);
    env.ok(&["env", "up", "own1"]);
    // An env whose template this machine no longer has cannot be destroyed here.
    env.vars
        .insert("PLAT_TEMPLATE_PATH".into(), templates.display().to_string());
    env.ok_as(
        "kid@kid.test",
        &[
            "--account",
            "kid",
            "env",
            "up",
            "lost",
            "--template",
            "params",
            "--param",
            "team=kids",
            "--param",
            "owner_email=kid@kid.test",
        ],
    );
    env.vars.remove("PLAT_TEMPLATE_PATH");

    let reap = env.run_with(
        &["env", "reap", "-o", "json"],
        &[("PLAT_CLOCK_OFFSET", "+1h")],
    );
    reap.failure(1);
    assert!(
        reap.stderr
            .contains("could not destroy lost of account kid"),
        "{}",
        reap.transcript()
    );
    let mut reaped: Vec<String> = reap
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}:{}",
                e["account"].as_str().unwrap(),
                e["name"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    reaped.sort();
    assert_eq!(
        reaped,
        ["kid/k1:destroyed", "platform/own1:destroyed"],
        "{}",
        reap.transcript()
    );
    let kid = env
        .ok_as("kid@kid.test", &["env", "list", "--all", "-o", "json"])
        .json();
    let k1 = kid
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "k1")
        .unwrap();
    assert_eq!(k1["status"], "destroyed");
    assert_eq!(k1["resources"], serde_json::json!([]));
    // The failed env stays live for a later reap, which retries it once its lease lapses.
    let lost = kid
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "lost")
        .unwrap();
    assert_ne!(lost["status"], "destroyed");
}
