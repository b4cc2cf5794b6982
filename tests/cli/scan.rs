//! `plat scan` through the real binary: DOMAIN.md section 4 defects in manifests and Terraform
//! state, every report format, exit codes, an environment's state and the Backstage catalog.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{ALICE, BOB, Outcome, TestEnv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scan");
const DEFECTS: &str = "manifests/defects.yaml";
/// PLAT001–017 (Kubernetes and files), PLAT101–114 (AWS), PLAT120–130 (Azure), PLAT140–150 (GCP).
const BUILT_IN_RULES: usize = 17 + 14 + 11 + 11;

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
            .starts_with("manifests/defects.yaml (19 findings)\nLINE  SEVERITY  RULE"),
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
            .contains("Scanned 4 resources, 13 errors, 6 warnings, 0 notes, 1 input problems"),
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
    assert_eq!(
        never.json()["summary"]["findings"]["error"],
        13,
        "12 defects and the malformed document (PLAT016)"
    );

    // Errors turned into warnings by the config pass `--fail-on error`, not `--fail-on warning`.
    let config = env.root().join("scan.yaml");
    let mut severities = String::from("severities:\n");
    for n in 1..=17 {
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
            .contains("scan found 19 findings at or above --fail-on warning"),
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
    assert_eq!(rules.len(), BUILT_IN_RULES, "{rules:?}");
    assert!(rules.contains(&"PLAT016"));
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
    assert_eq!(results.len(), 19);
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
    assert_eq!(lines.len(), 19, "{}", outcome.transcript());
    assert_eq!(
        lines[0],
        "::error file=manifests/defects.yaml,line=4,endLine=4,title=PLAT001 missing-tenant-label::Deployment legacy has no appgear.io/tenant-id label: its cost cannot be allocated"
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
            resource["metadata"]["annotations"]["appgear.io/tenant-id"],
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
    let sarif = scan(&env, &["scan", "manifests/nope.yaml", "--format", "sarif"]);
    sarif.failure(1);
    assert_eq!(sarif.stdout, "", "no half-written SARIF before the error");
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
fn scan_rules_lists_the_kubernetes_rules_and_the_cloud_baseline() {
    let env = TestEnv::new();
    let rules = env.ok(&["scan", "rules", "-o", "json"]).json();
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=17)
        .chain(101..=114)
        .chain(120..=130)
        .chain(140..=150)
        .map(|n| format!("PLAT{n:03}"))
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(ids.len(), BUILT_IN_RULES);
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
        // Issue 14: the findings sit under the `findings:` label, never in an unlabelled row.
        let table = env.ok_as(ALICE, &["scan", "show", "shop-k8s"]).stdout;
        assert!(table.contains("findings:"), "{table}");
        assert!(!table.lines().any(|l| l.trim_start().starts_with(':')), "{table}");
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
    let state = crate::support::local_state_file(&env, "direct");
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

// ---- issue 17: failures fail, hostile input, stable identities, policies, cloud baseline ----

/// Runs plat in `dir`, so that reported paths are relative to it.
fn scan_in(env: &TestEnv, dir: &Path, args: &[&str], stdin: Stdio) -> Outcome {
    let mut cmd = env.command(args);
    cmd.current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Outcome::from(cmd.output().expect("run plat"))
}

fn broken_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "kind: [unclosed\n").unwrap();
    std::fs::write(dir.path().join("binary.yaml"), [0x00u8, 0xff, 0xfe, 0x01]).unwrap();
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("deep.yaml"), deep).unwrap();
    dir
}

#[test]
fn plat016_a_repository_of_only_broken_manifests_fails_in_every_format() {
    let env = TestEnv::new();
    let repo = broken_repository();
    let expected = vec![at("bad.yaml", 2), at("binary.yaml", 1), at("deep.yaml", 1)];

    let json = scan_in(
        &env,
        repo.path(),
        &["scan", ".", "-o", "json"],
        Stdio::null(),
    );
    json.failure(3);
    let mut found = located(&json.json(), "PLAT016");
    found.sort();
    assert_eq!(found, expected, "{}", json.transcript());

    let sarif = scan_in(
        &env,
        repo.path(),
        &["scan", "--format", "sarif"],
        Stdio::null(),
    );
    sarif.failure(3);
    let run = &sarif.json()["runs"][0];
    let mut results: Vec<(String, u64)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["ruleId"], "PLAT016");
            let location = &r["locations"][0]["physicalLocation"];
            (
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                location["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(results, expected);
    let notifications = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notifications.len(), 3, "{notifications:?}");
    assert!(notifications.iter().all(|n| n["level"] == "error"));

    let github = scan_in(
        &env,
        repo.path(),
        &["scan", "--format", "github"],
        Stdio::null(),
    );
    github.failure(3);
    assert!(
        github.stdout.contains("::error file=deep.yaml,line=1,endLine=1,title=PLAT016 unparsable-input::malformed YAML document: nested deeper than 256 levels"),
        "{}",
        github.transcript()
    );
    let table = scan_in(&env, repo.path(), &["scan"], Stdio::null());
    table.failure(3);
    assert!(
        table.stdout.contains("bad.yaml (1 finding)"),
        "{}",
        table.transcript()
    );

    // --skip-unparsable restores the old behaviour, explicitly: warned about, not failed.
    let skipped = scan_in(
        &env,
        repo.path(),
        &["scan", "--skip-unparsable"],
        Stdio::null(),
    );
    skipped.success();
    assert!(
        skipped
            .stderr
            .contains("warning: deep.yaml:1: malformed YAML document: nested deeper"),
        "{}",
        skipped.transcript()
    );
}

#[test]
fn hostile_input_is_refused_and_special_files_never_hang_the_scan() {
    let env = TestEnv::new();
    let devices = scan(&env, &["scan", "/dev/zero"]);
    devices.failure(1);
    assert!(
        devices
            .stderr
            .contains("error: /dev/zero is not a regular file"),
        "{}",
        devices.transcript()
    );

    // Endless input on stdin stops at the document limit with a PLAT016 finding.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let endless = scan_in(
        &env,
        Path::new(FIXTURES),
        &["scan", "-", "-o", "json"],
        Stdio::from(zero),
    );
    endless.failure(3);
    assert_eq!(located(&endless.json(), "PLAT016"), vec![at("<stdin>", 1)]);

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::os::unix::fs::symlink("nowhere.yaml", root.join("dangling.yaml")).unwrap();
    std::os::unix::fs::symlink("loop.yaml", root.join("loop.yaml")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(root.join("pipe.yaml"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::copy(
        Path::new(FIXTURES).join("manifests/clean.yaml"),
        root.join("clean.yaml"),
    )
    .unwrap();
    let outcome = scan_in(&env, root, &["scan", ".", "-o", "json"], Stdio::null());
    outcome.success();
    for file in ["dangling.yaml", "loop.yaml", "pipe.yaml"] {
        assert!(
            outcome
                .stderr
                .contains(&format!("warning: skipped {file}: ")),
            "{}",
            outcome.transcript()
        );
    }
    assert_eq!(outcome.json()["summary"]["resources"], 3);
    // A dangling symlink named on the command line is skipped too.
    scan_in(&env, root, &["scan", "dangling.yaml"], Stdio::null()).success();
}

fn sarif_fingerprint(env: &TestEnv, dir: &Path, file: &str, rule: &str) -> Vec<String> {
    let outcome = scan_in(
        env,
        dir,
        &["scan", file, "--format", "sarif", "--fail-on", "never"],
        Stdio::null(),
    );
    outcome.success();
    outcome.json()["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == rule)
        .map(|r| {
            r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn sarif_fingerprints_stay_when_an_object_moves_down_its_file_and_differ_between_files() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: NodePort\n";
    let other = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n";
    std::fs::write(dir.path().join("app.yaml"), service).unwrap();
    std::fs::write(dir.path().join("copy.yaml"), service).unwrap();
    let before = sarif_fingerprint(&env, dir.path(), "app.yaml", "PLAT004");
    std::fs::write(
        dir.path().join("app.yaml"),
        format!("{other}---\n{other}---\n{service}"),
    )
    .unwrap();
    let after = sarif_fingerprint(&env, dir.path(), "app.yaml", "PLAT004");
    assert_eq!(before.len(), 1);
    assert_eq!(before, after, "moved down the file, same alert");
    let copy = sarif_fingerprint(&env, dir.path(), "copy.yaml", "PLAT004");
    assert_ne!(
        before, copy,
        "the same object in another file is another alert"
    );
}

/// Every entity `--format backstage` prints passes `@backstage/catalog-model`'s own validators
/// (installed from npm by scripts/test.sh), and entity refs are unique.
#[test]
fn backstage_entities_pass_the_catalog_model_validators_and_are_unique_per_source() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let clean = std::fs::read_to_string(Path::new(FIXTURES).join("manifests/clean.yaml")).unwrap();
    for copy in ["a", "b", "c"] {
        // The same objects in three files, and twice within each file.
        std::fs::write(
            dir.path().join(format!("{copy}.yaml")),
            format!("{clean}\n---\n{clean}"),
        )
        .unwrap();
    }
    std::fs::copy(
        Path::new(FIXTURES).join("tf/show.json"),
        dir.path().join("state.json"),
    )
    .unwrap();
    let outcome = scan_in(
        &env,
        dir.path(),
        &[
            "scan",
            "a.yaml",
            "b.yaml",
            "c.yaml",
            "--tf-state",
            "state.json",
            "--format",
            "backstage",
            "--fail-on",
            "never",
        ],
        Stdio::null(),
    );
    outcome.success();
    let entities: Vec<Value> = outcome
        .stdout
        .split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_yaml_ng::from_str(doc).unwrap())
        .collect();
    let resources = entities.iter().filter(|e| e["kind"] == "Resource").count();
    assert_eq!(resources, 3 * 2 * 3 + 4, "{}", outcome.stdout);
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/catalog-model");
    assert!(
        oracle
            .join("node_modules/@backstage/catalog-model")
            .is_dir(),
        "run scripts/test.sh (or `npm ci` in {}) to install the catalog-model oracle",
        oracle.display()
    );
    let mut node = std::process::Command::new("node")
        .arg(oracle.join("validate.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    node.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&entities).unwrap().as_bytes())
        .unwrap();
    let verdict = node.wait_with_output().unwrap();
    assert!(
        verdict.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verdict.stdout),
        String::from_utf8_lossy(&verdict.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&verdict.stdout).trim(),
        format!("ok {}", entities.len())
    );
}

const POLICY: &str = r#"package main

deny_privileged contains msg if {
	input.kind == "Deployment"
	some container in input.spec.template.spec.containers
	container.securityContext.privileged
	msg := sprintf("%s runs privileged", [container.name])
}

warn contains {"msg": sprintf("%s has no owner label", [input.metadata.name])} if {
	input.kind == "Namespace"
	not input.metadata.labels.owner
}

deny_public_bucket contains msg if {
	input.kind == "terraform"
	input.type == "aws_s3_bucket"
	input.values.acl == "public-read"
	msg := sprintf("%s is public", [input.address])
}
"#;

#[test]
fn rego_policies_in_dot_plat_policies_check_kubernetes_objects_and_terraform_resources() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".plat/policies")).unwrap();
    std::fs::write(dir.path().join(".plat/policies/platform.rego"), POLICY).unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:1\n          securityContext:\n            privileged: true\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        r#"{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_s3_bucket.logs","mode":"managed","type":"aws_s3_bucket","name":"logs","values":{"acl":"public-read","bucket":"logs","tags":{}}}]}}}"#,
    )
    .unwrap();
    let rules = scan_in(
        &env,
        dir.path(),
        &["scan", "rules", "-o", "json"],
        Stdio::null(),
    );
    rules.success();
    let ids: Vec<String> = rules
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for id in [
        "PLAT001",
        "PLAT101",
        "main.deny_privileged",
        "main.warn",
        "main.deny_public_bucket",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} in {ids:?}");
    }
    let outcome = scan_in(
        &env,
        dir.path(),
        &["scan", "app.yaml", "--tf-state", "plan.json", "-o", "json"],
        Stdio::null(),
    );
    outcome.failure(3);
    let report = outcome.json();
    let policy: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("main."))
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = |id: &str, severity: &str, message: &str| {
        (id.to_owned(), severity.to_owned(), message.to_owned())
    };
    assert!(
        policy.contains(&expected(
            "main.deny_privileged",
            "error",
            "app runs privileged"
        )),
        "{policy:?}"
    );
    assert!(
        policy.contains(&expected("main.warn", "warning", "shop has no owner label")),
        "{policy:?}"
    );
    assert!(
        policy.contains(&expected(
            "main.deny_public_bucket",
            "error",
            "aws_s3_bucket.logs is public"
        )),
        "{policy:?}"
    );
    // The built-in rule for the same defect still runs natively.
    assert_eq!(located(&report, "PLAT102").len(), 1, "{report}");

    let sarif = scan_in(
        &env,
        dir.path(),
        &["scan", "app.yaml", "--format", "sarif"],
        Stdio::null(),
    );
    let rules = sarif.json()["runs"][0]["tool"]["driver"]["rules"].clone();
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "main.deny_privileged")
    );

    // A broken policy is a clear error before anything is scanned.
    std::fs::write(
        dir.path().join(".plat/policies/broken.rego"),
        "package main\ndeny contains msg if {\n",
    )
    .unwrap();
    let broken = scan_in(&env, dir.path(), &["scan", "app.yaml"], Stdio::null());
    broken.failure(1);
    assert!(
        broken.stderr.contains("error: policy "),
        "{}",
        broken.transcript()
    );
}

/// Resource address → the cloud baseline rules it breaks, in tf/cloud-plan-insecure.json (a plan
/// in `terraform show -json` format, written by hand: providers cannot be downloaded here).
const INSECURE_PLAN: &[(&str, &[&str])] = &[
    ("aws_cloudtrail.trail", &["PLAT107", "PLAT114"]),
    ("aws_db_instance.db", &["PLAT104", "PLAT105"]),
    ("aws_ebs_volume.data", &["PLAT106"]),
    ("aws_efs_file_system.share", &["PLAT106"]),
    ("aws_eks_cluster.main", &["PLAT110", "PLAT113"]),
    ("aws_iam_policy.admin", &["PLAT108"]),
    ("aws_instance.web", &["PLAT106", "PLAT111"]),
    ("aws_kms_key.key", &["PLAT109"]),
    ("aws_lb.web", &["PLAT112"]),
    ("aws_s3_bucket_acl.site", &["PLAT102"]),
    ("aws_s3_bucket_public_access_block.site", &["PLAT103"]),
    ("aws_security_group.ssh", &["PLAT101"]),
    ("aws_security_group_rule.rdp", &["PLAT101"]),
    ("aws_vpc_security_group_ingress_rule.all", &["PLAT101"]),
    ("azurerm_key_vault.kv", &["PLAT124"]),
    ("azurerm_key_vault_key.key", &["PLAT125"]),
    ("azurerm_kubernetes_cluster.aks", &["PLAT126"]),
    ("azurerm_linux_virtual_machine.vm", &["PLAT128"]),
    ("azurerm_mssql_firewall_rule.all", &["PLAT123"]),
    (
        "azurerm_mssql_server_extended_auditing_policy.audit",
        &["PLAT129"],
    ),
    ("azurerm_network_security_group.rdp", &["PLAT120"]),
    ("azurerm_network_security_rule.ssh", &["PLAT120"]),
    ("azurerm_network_watcher_flow_log.flow", &["PLAT127"]),
    ("azurerm_role_definition.god", &["PLAT130"]),
    ("azurerm_storage_account.sa", &["PLAT121", "PLAT122"]),
    ("azurerm_storage_container.media", &["PLAT121"]),
    ("google_compute_firewall.ssh", &["PLAT140"]),
    ("google_compute_subnetwork.sub", &["PLAT149"]),
    ("google_container_cluster.gke", &["PLAT146", "PLAT147"]),
    ("google_kms_crypto_key.key", &["PLAT145"]),
    ("google_project_iam_binding.owners", &["PLAT150"]),
    ("google_project_iam_member.public", &["PLAT148"]),
    ("google_sql_database_instance.db", &["PLAT143", "PLAT144"]),
    ("google_storage_bucket.site", &["PLAT142"]),
    ("google_storage_bucket_iam_member.public", &["PLAT141"]),
];

fn cloud_findings(plan: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let outcome = scan(
        &TestEnv::new(),
        &[
            "scan",
            "--tf-state",
            plan,
            "-o",
            "json",
            "--fail-on",
            "never",
        ],
    );
    outcome.success();
    let mut found: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in outcome.json()["findings"].as_array().unwrap() {
        let rule = f["rule_id"].as_str().unwrap();
        if rule >= "PLAT100" {
            found
                .entry(f["resource"].as_str().unwrap().to_owned())
                .or_default()
                .push(rule.to_owned());
        }
    }
    for rules in found.values_mut() {
        rules.sort();
        rules.dedup();
    }
    found
}

#[test]
fn plat101_to_plat150_the_cloud_baseline_flags_each_insecure_resource_and_no_secure_one() {
    let expected: std::collections::BTreeMap<String, Vec<String>> = INSECURE_PLAN
        .iter()
        .map(|(address, rules)| {
            (
                address.to_string(),
                rules.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(cloud_findings("tf/cloud-plan-insecure.json"), expected);
    let every_rule: std::collections::BTreeSet<&str> = INSECURE_PLAN
        .iter()
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    assert_eq!(
        every_rule.len(),
        14 + 11 + 11,
        "each cloud rule has a failing case"
    );
    assert_eq!(
        cloud_findings("tf/cloud-plan-secure.json"),
        Default::default()
    );
}
