//! `plat scan` through the real binary: DOMAIN.md section 4 defects in manifests and Terraform
//! state, every report format, exit codes, an environment's state and the Backstage catalog.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{ALICE, BOB, Outcome, TestEnv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scan");
const DEFECTS: &str = "manifests/defects.yaml";

/// Runs plat from the fixtures directory, so locations read `manifests/defects.yaml`.
fn scan(env: &TestEnv, args: &[&str]) -> Outcome {
    scan_with(env, args, &[], None)
}

fn scan_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)], stdin: Option<&[u8]>) -> Outcome {
    let mut cmd = env.command(args);
    cmd.current_dir(FIXTURES).envs(vars.iter().copied());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run plat");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let output = child.wait_with_output().expect("wait for plat");
    Outcome::from(output)
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(path)).unwrap()
}

/// The findings of one rule as `(file, line)` pairs.
fn located(report: &Value, rule: &str) -> Vec<(String, u64)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| {
            (
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Scans the defects fixture as JSON; it must fail the default `--fail-on error` with exit 3.
fn defects_report(env: &TestEnv, paths: &[&str]) -> Value {
    let mut args = vec!["scan", "-o", "json"];
    args.extend_from_slice(paths);
    let outcome = scan(env, &args);
    outcome.failure(3);
    assert!(
        outcome.stderr.contains("error: scan found") && outcome.stderr.contains("--fail-on error"),
        "{}",
        outcome.transcript()
    );
    outcome.json()
}

fn at(file: &str, line: u64) -> (String, u64) {
    (file.to_owned(), line)
}

#[test]
fn r_env_5_1_missing_tenant_label_is_plat001() {
    let report = defects_report(&TestEnv::new(), &[DEFECTS]);
    assert_eq!(located(&report, "PLAT001"), vec![at(DEFECTS, 4)]);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "PLAT001")
        .unwrap();
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["resource"], "apps/Deployment/shop/legacy");
}

#[test]
fn r_env_5_2_containers_without_requests_or_limits_are_plat002() {
    let report = defects_report(&TestEnv::new(), &[DEFECTS]);
    // `web` has no resources; `sidecar` (line 35) sets all of them and is not reported.
    assert_eq!(located(&report, "PLAT002"), vec![at(DEFECTS, 24)]);
}

#[test]
fn r_env_5_3_plaintext_secrets_in_configmaps_and_app_config_are_plat003() {
    let env = TestEnv::new();
    let report = defects_report(&env, &[DEFECTS, "manifests/mixed"]);
    assert_eq!(
        located(&report, "PLAT003"),
        vec![
            at(DEFECTS, 76),
            at(DEFECTS, 77),
            at("manifests/mixed/app-config.production.yaml", 8),
        ]
    );
    // The report names secrets, never shows them.
    let text = report.to_string();
    for secret in [
        "hunter2-very-secret",
        "letmein",
        "0123456789abcdef0123",
        "s3cr3t-t0ken-value",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}

#[test]
fn r_env_5_4_services_exposed_outside_the_edge_chain_are_plat004() {
    let report = defects_report(&TestEnv::new(), &[DEFECTS]);
    // The LoadBalancer Service and the Ingress of a class that is not the gateway's.
    assert_eq!(
        located(&report, "PLAT004"),
        vec![at(DEFECTS, 57), at(DEFECTS, 98)]
    );
}

#[test]
fn r_env_5_5_images_on_latest_or_without_a_tag_are_plat005() {
    let report = defects_report(&TestEnv::new(), &[DEFECTS]);
    // nginx:latest (line 25) and busybox with no tag (line 36).
    assert_eq!(
        located(&report, "PLAT005"),
        vec![at(DEFECTS, 25), at(DEFECTS, 36)]
    );
}

#[test]
fn table_output_groups_findings_by_file_on_stdout_and_summarizes_on_stderr() {
    let outcome = scan(&TestEnv::new(), &["scan", DEFECTS]);
    outcome.failure(3);
    assert!(
        outcome
            .stdout
            .starts_with("manifests/defects.yaml (18 findings)\nLINE  SEVERITY  RULE"),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome.stdout.contains("\nFindings by rule\n"),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome
            .stdout
            .lines()
            .any(|l| l.starts_with("25 ") && l.contains("PLAT005")),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome
            .stderr
            .contains("Scanned 4 resources, 12 errors, 6 warnings, 0 notes, 1 input problems"),
        "{}",
        outcome.transcript()
    );
    assert!(
        !outcome.stdout.contains("Scanned"),
        "summary stays off stdout"
    );
}

#[test]
fn clean_manifests_exit_0() {
    let env = TestEnv::new();
    let outcome = scan(&env, &["scan", "manifests/clean.yaml", "-o", "json"]);
    outcome.success();
    let report = outcome.json();
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["summary"]["resources"], 3, "{report}");
    assert_eq!(report["schema_version"], 1);

    let table = scan(&env, &["scan", "manifests/clean.yaml"]);
    table.success();
    assert_eq!(table.stdout, "", "nothing to report on stdout");
    assert!(
        table.stderr.contains("No findings."),
        "{}",
        table.transcript()
    );
}

#[test]
fn fail_on_never_reports_but_exits_0_and_fail_on_warning_counts_warnings() {
    let env = TestEnv::new();
    let never = scan(&env, &["scan", DEFECTS, "--fail-on", "never", "-o", "json"]);
    never.success();
    assert_eq!(never.json()["summary"]["findings"]["error"], 12);

    // Errors turned into warnings by the config pass `--fail-on error`, not `--fail-on warning`.
    let config = env.root().join("scan.yaml");
    let mut severities = String::from("severities:\n");
    for n in 1..=15 {
        severities.push_str(&format!("  PLAT{n:03}: warning\n"));
    }
    std::fs::write(&config, severities).unwrap();
    let config = config.to_str().unwrap();
    scan(&env, &["scan", DEFECTS, "--config", config]).success();
    let warning = scan(
        &env,
        &["scan", DEFECTS, "--config", config, "--fail-on", "warning"],
    );
    warning.failure(3);
    assert!(
        warning
            .stderr
            .contains("scan found 18 findings at or above --fail-on warning"),
        "{}",
        warning.transcript()
    );
}

#[test]
fn a_bad_scan_config_is_a_clear_error() {
    let env = TestEnv::new();
    let config = env.root().join("scan.yaml");
    std::fs::write(&config, "severities:\n  PLAT999: off\n").unwrap();
    let outcome = scan(
        &env,
        &["scan", DEFECTS, "--config", config.to_str().unwrap()],
    );
    outcome.failure(1);
    assert!(
        outcome.stderr.contains("unknown rule id PLAT999"),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome.stderr.contains("hint: see `plat scan rules`"),
        "{}",
        outcome.transcript()
    );
}

fn assert_sarif_shape(sarif: &Value) {
    assert_eq!(sarif["version"], "2.1.0");
    assert!(
        sarif["$schema"]
            .as_str()
            .unwrap()
            .ends_with("sarif-schema-2.1.0.json")
    );
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "plat");
    let rules: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules.len(), 15);
    for result in runs[0]["results"].as_array().expect("results is an array") {
        let rule = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index], rule, "ruleIndex points at the rule");
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            !uri.starts_with('/') && !uri.starts_with("./"),
            "repository-relative: {uri}"
        );
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(result["partialFingerprints"]["primaryLocationLineHash"].is_string());
    }
}

#[test]
fn sarif_output_is_sarif_2_1_0_with_empty_results_when_clean() {
    let env = TestEnv::new();
    let clean = scan(&env, &["scan", "manifests/clean.yaml", "--format", "sarif"]);
    clean.success();
    let sarif = clean.json();
    assert_sarif_shape(&sarif);
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));

    let dirty = scan(&env, &["scan", DEFECTS, "--format", "sarif"]);
    dirty.failure(3);
    let sarif = dirty.json();
    assert_sarif_shape(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 18);
    let first = &results[0];
    assert_eq!(first["ruleId"], "PLAT001");
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        DEFECTS
    );
    assert_eq!(
        first["locations"][0]["physicalLocation"]["region"]["startLine"],
        4
    );
}

#[test]
fn github_format_prints_annotations_and_appends_the_step_summary() {
    let env = TestEnv::new();
    let summary = env.root().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let outcome = scan_with(
        &env,
        &["scan", DEFECTS, "--format", "github"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
        None,
    );
    outcome.failure(3);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 18, "{}", outcome.transcript());
    assert_eq!(
        lines[0],
        "::error file=manifests/defects.yaml,line=4,title=PLAT001 missing-tenant-label::Deployment legacy has no appgear.io/tenant-id label: its cost cannot be allocated"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::warning file=manifests/defects.yaml,line=28,")),
        "warnings are ::warning: {}",
        outcome.transcript()
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("earlier step\n## plat scan\n"),
        "appended: {written}"
    );
    assert!(
        written.contains("| error | PLAT005 | `manifests/defects.yaml:25` |"),
        "{written}"
    );
}

#[test]
fn backstage_format_prints_a_system_and_a_resource_per_object() {
    let outcome = scan(
        &TestEnv::new(),
        &["scan", "manifests/clean.yaml", "--format", "backstage"],
    );
    outcome.success();
    let entities: Vec<Value> = outcome
        .stdout
        .split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_yaml_ng::from_str(doc).expect("entity YAML"))
        .collect();
    assert_eq!(entities.len(), 4, "{}", outcome.stdout);
    let system = &entities[0];
    assert_eq!(system["kind"], "System");
    assert_eq!(system["metadata"]["name"], "env-ws-42");
    for resource in &entities[1..] {
        assert_eq!(resource["apiVersion"], "backstage.io/v1alpha1");
        assert_eq!(resource["kind"], "Resource");
        assert_eq!(resource["spec"]["system"], "env-ws-42");
        let name = resource["metadata"]["name"].as_str().unwrap();
        assert!(
            name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)),
            "{name}"
        );
        assert_eq!(
            resource["metadata"]["annotations"]["plat.io/tenant-id"],
            "acme"
        );
    }
}

#[test]
fn tf_state_show_json_reports_untagged_resources_and_unmarked_secret_outputs() {
    let outcome = scan(
        &TestEnv::new(),
        &["scan", "--tf-state", "tf/show.json", "-o", "json"],
    );
    outcome.failure(3);
    let report = outcome.json();
    assert_eq!(
        located(&report, "PLAT014"),
        vec![at("tf/show.json", 46), at("tf/show.json", 59)]
    );
    assert_eq!(located(&report, "PLAT015"), vec![at("tf/show.json", 6)]);
    let addresses: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert!(
        addresses.contains(&"azurerm_resource_group.main"),
        "{addresses:?}"
    );
    assert!(
        !addresses.iter().any(|a| a.starts_with("data.")),
        "data sources are not inventory"
    );
    assert!(
        !outcome.stdout.contains("Sup3r-S3cret!"),
        "state values never reach the report"
    );
}

#[test]
fn tf_state_from_stdin() {
    let outcome = scan_with(
        &TestEnv::new(),
        &["scan", "--tf-state", "-", "-o", "json"],
        &[],
        Some(&fixture("tf/raw.tfstate")),
    );
    outcome.failure(3);
    let report = outcome.json();
    assert_eq!(located(&report, "PLAT015"), vec![at("<stdin>", 7)]);
    assert_eq!(located(&report, "PLAT014").len(), 2, "{report}");
}

#[test]
fn manifests_from_stdin() {
    let outcome = scan_with(
        &TestEnv::new(),
        &["scan", "-", "-o", "json"],
        &[],
        Some(&fixture(DEFECTS)),
    );
    outcome.failure(3);
    assert_eq!(
        located(&outcome.json(), "PLAT005"),
        vec![at("<stdin>", 25), at("<stdin>", 36)]
    );
}

#[test]
fn malformed_yaml_is_reported_with_file_and_line_and_the_rest_is_scanned() {
    let outcome = scan(&TestEnv::new(), &["scan", DEFECTS, "-o", "json"]);
    outcome.failure(3);
    assert!(
        outcome
            .stderr
            .contains("warning: manifests/defects.yaml:81: malformed YAML document"),
        "{}",
        outcome.transcript()
    );
    let report = outcome.json();
    assert_eq!(
        report["problems"][0]["location"],
        serde_json::json!({"file": DEFECTS, "line": 81})
    );
    // The Ingress after the broken document was still checked.
    assert!(located(&report, "PLAT004").contains(&at(DEFECTS, 98)));
}

#[test]
fn unknown_state_version_exits_1_with_a_clear_error() {
    let outcome = scan(
        &TestEnv::new(),
        &["scan", "--tf-state", "tf/v3.tfstate", "-o", "json"],
    );
    outcome.failure(1);
    assert_eq!(outcome.stdout, "");
    assert!(
        outcome
            .stderr
            .starts_with("error: tf/v3.tfstate: unsupported Terraform state format 3\nhint: pass `terraform show -json` output"),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome
            .stderr
            .contains("\"code\":\"unsupported_state_version\""),
        "{}",
        outcome.transcript()
    );
}

#[test]
fn a_missing_path_exits_1_and_one_stdin_only() {
    let env = TestEnv::new();
    let missing = scan(&env, &["scan", "manifests/nope.yaml"]);
    missing.failure(1);
    assert!(
        missing
            .stderr
            .contains("error: path does not exist: manifests/nope.yaml"),
        "{}",
        missing.transcript()
    );
    let twice = scan(&env, &["scan", "-", "--tf-state", "-"]);
    twice.failure(1);
    assert!(
        twice.stderr.contains("only one input"),
        "{}",
        twice.transcript()
    );
}

#[test]
fn scan_rules_lists_plat001_to_plat015() {
    let env = TestEnv::new();
    let rules = env.ok(&["scan", "rules", "-o", "json"]).json();
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=15).map(|n| format!("PLAT{n:03}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(rules[0]["default_severity"], "error");
    assert!(
        rules[4]["fix"].as_str().unwrap().contains("tag"),
        "{}",
        rules[4]
    );

    let table = env.ok(&["scan", "rules"]);
    assert!(
        table.stdout.starts_with("ID       NAME"),
        "{}",
        table.stdout
    );
    for id in &expected {
        assert!(
            table.stdout.contains(id.as_str()),
            "{id} in {}",
            table.stdout
        );
    }
}

on_every_backend! {
    fn r_sec_1_publish_attaches_the_inventory_to_the_account_that_scanned() {
        let env = TestEnv::new();
        env.acme();
        let manifests = Path::new(FIXTURES).join("manifests/clean.yaml");
        let manifests = manifests.to_str().unwrap();
        let published = env.run_as(ALICE, &["scan", manifests, "--publish", "--publish-name", "shop-k8s"]);
        published.success();
        assert!(
            published.stderr.contains("Published inventory 'shop-k8s' to account 'acme' (3 resources"),
            "{}",
            published.transcript()
        );

        // A re-scan of the same source replaces the inventory rather than adding one.
        env.ok_as(ALICE, &["scan", manifests, "--publish", "--publish-name", "shop-k8s"]);
        let listed = env.ok_as(ALICE, &["scan", "list", "-o", "json"]).json();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["name"], "shop-k8s");
        assert_eq!(listed[0]["account"], "acme");
        assert_eq!(listed[0]["published_by"], ALICE);
        assert_eq!(listed[0]["resources"], 3);
        assert_eq!(listed[0]["errors"], 0);
        assert!(listed[0].get("report").is_none(), "listings leave the documents out");

        let shown = env.ok_as(ALICE, &["scan", "show", "shop-k8s", "-o", "json"]).json();
        assert_eq!(shown["report"]["schema_version"], 1);
        assert_eq!(shown["report"]["resources"].as_array().unwrap().len(), 3);
        let entities = env.ok_as(ALICE, &["scan", "show", "shop-k8s", "--entities"]).stdout;
        assert_eq!(entities.matches("kind: Resource").count(), 3, "{entities}");

        // R-SEC-3: another account sees nothing, and learns nothing either.
        let hidden = env.run(&["scan", "show", "shop-k8s"]);
        hidden.failure(1);
        assert!(hidden.stderr.starts_with("error: inventory 'shop-k8s' not found"), "{}", hidden.transcript());
        let theirs = env.ok(&["scan", "list", "-o", "json"]).json();
        assert_eq!(theirs, serde_json::json!([]));
        let shop = env.ok_as(BOB, &["scan", "list", "-o", "json"]).json();
        assert_eq!(shop, serde_json::json!([]));

        // Backstage reads every entity the account published from one catalog location.
        if let Some(server) = &env.server {
            let catalog = http_get(&format!("{}/api/v1/catalog", server.url), &crate::services::idp().token(ALICE));
            assert_eq!(catalog.0, 200, "{}", catalog.1);
            assert_eq!(catalog.1.matches("kind: Resource").count(), 3, "{}", catalog.1);
            let strangers = http_get(&format!("{}/api/v1/catalog", server.url), &crate::services::idp().token(BOB));
            assert_eq!(strangers, (200, String::new()));
        }
    }

    fn publish_refuses_a_bad_name_and_changes_nothing() {
        let env = TestEnv::new();
        env.acme();
        let manifests = Path::new(FIXTURES).join("manifests/clean.yaml");
        let outcome = env.refused(
            Some(ALICE),
            &["scan", manifests.to_str().unwrap(), "--publish", "--publish-name", "Shop K8s"],
            1,
        );
        assert!(outcome.stderr.contains("error: invalid inventory name 'Shop K8s'"), "{}", outcome.transcript());
        assert!(outcome.stderr.contains("hint: use 1-63 lowercase letters"), "{}", outcome.transcript());
    }
}

fn http_get(url: &str, token: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[test]
fn kube_scan_of_an_unreachable_cluster_exits_1_with_a_hint() {
    let env = TestEnv::new();
    let port = crate::services::free_port();
    let kube_dir = env.root().join("home/.kube");
    std::fs::create_dir_all(&kube_dir).unwrap();
    std::fs::write(
        kube_dir.join("config"),
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: me\nusers:\n- name: me\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let outcome = scan(
        &env,
        &["scan", "--kube", "--namespace", "shop", "-o", "json"],
    );
    outcome.failure(1);
    assert!(
        outcome.stderr.starts_with("error: Kubernetes API error"),
        "{}",
        outcome.transcript()
    );
    assert!(
        outcome.stderr.contains("hint: check --kube-context"),
        "{}",
        outcome.transcript()
    );
}

on_every_backend! {
    fn r_env_5_an_environments_state_lists_its_resources_with_their_tags() {
        let env = TestEnv::new();
        env.ok(&["env", "up", "demo1"]);
        let outcome = env.run(&["scan", "--env", "demo1", "-o", "json", "--publish"]);
        outcome.success();
        let report = outcome.json();
        let resources = report["resources"].as_array().unwrap();
        let addresses: Vec<&str> = resources.iter().map(|r| r["address"].as_str().unwrap()).collect();
        assert_eq!(
            addresses,
            vec!["terraform_data.argocd", "terraform_data.key_vault", "terraform_data.kubernetes_cluster", "terraform_data.load_balancer"]
        );
        for resource in resources {
            assert_eq!(resource["kind"], "terraform_data");
            assert_eq!(resource["location"]["file"], "env:demo1");
            let labels = &resource["labels"];
            assert_eq!(labels["appgear.io/workspace-id"], "demo1", "{resource}");
            assert_eq!(labels["appgear.io/tenant-id"], "default", "{resource}");
            assert_eq!(labels["app.kubernetes.io/part-of"], "plat-env-demo1", "{resource}");
            assert_eq!(resource["attribution"]["workspace"], "demo1");
        }
        assert_eq!(report["findings"], serde_json::json!([]), "the demo template tags everything");

        // --publish attaches the inventory to the environment.
        let listed = env.ok(&["scan", "list", "-o", "json"]).json();
        assert_eq!(listed[0]["name"], "env-demo1", "{listed}");
        assert_eq!(listed[0]["env"], "demo1", "{listed}");
        assert_eq!(listed[0]["source"], "env:demo1", "{listed}");
        assert_eq!(listed[0]["resources"], 4, "{listed}");
        let written = env.ok(&["scan", "show", "env-demo1", "--entities"]).stdout;
        assert!(written.contains("name: env-demo1"), "{written}");
        assert_eq!(written.matches("kind: Resource").count(), 4, "{written}");

        let unknown = env.run(&["scan", "--env", "nope"]);
        unknown.failure(1);
        assert!(unknown.stderr.contains("not found"), "{}", unknown.transcript());
    }
}

#[test]
fn r_env_5_terraform_data_tags_count_when_a_state_file_is_scanned_directly() {
    let env = TestEnv::new();
    env.ok(&["env", "up", "direct"]);
    let state = std::fs::read_dir(env.data_dir().join("envs/platform"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tfstate"))
        .expect("the embedded env's state file");
    let report = env
        .ok(&["scan", "--tf-state", state.to_str().unwrap(), "-o", "json"])
        .json();
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 4, "{report}");
    for resource in resources {
        assert_eq!(
            resource["labels"]["appgear.io/tenant-id"], "default",
            "{resource}"
        );
    }
    assert_eq!(
        report["findings"],
        serde_json::json!([]),
        "tagged: no PLAT014"
    );
}
