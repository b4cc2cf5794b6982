use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::report::{backstage, github, json, sarif, table};
use super::*;

/// `tests/fixtures/scan` of the crate that mounts this module (the main crate, or a scratch
/// crate next to it that includes the sources by path).
pub(super) fn fixtures() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest_dir.join("tests/fixtures/scan"),
        manifest_dir.join("../../main/tests/fixtures/scan"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
    .expect("tests/fixtures/scan")
    .canonicalize()
    .expect("fixtures dir")
}

fn scan_with(config: &ScanConfig, paths: &[&str], kustomize: KustomizeRenderer) -> ScanReport {
    let root = fixtures();
    let mut options = ManifestOptions::new(config);
    options.root = Some(root.clone());
    options.kustomize = kustomize;
    let mut report = ScanReport::new();
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    scan_paths(&paths, &options, &mut report).expect("scan runs");
    report.finish();
    report
}

fn scan(paths: &[&str]) -> ScanReport {
    scan_with(&ScanConfig::default(), paths, KustomizeRenderer::Disabled)
}

/// 1-based line of the first fixture line containing `needle`.
fn fixture_line(file: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(fixtures().join(file)).expect("fixture");
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in fixture") as u32
        + 1
}

fn rules_of(report: &ScanReport) -> Vec<&str> {
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
    rules.sort();
    rules.dedup();
    rules
}

fn find<'r>(report: &'r ScanReport, rule: &str, name: &str) -> Vec<&'r Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id == rule && f.name == name)
        .collect()
}

#[test]
fn clean_manifests_have_no_findings_and_full_inventory() {
    let report = scan(&["manifests/clean.yaml"]);
    assert_eq!(report.findings, vec![], "clean fixture must be clean");
    assert_eq!(report.resources.len(), 3);
    let deployment = &report.resources[0];
    assert_eq!(deployment.id, "apps/Deployment/shop/checkout");
    assert_eq!(
        deployment.location,
        Location {
            file: "manifests/clean.yaml".into(),
            line: 2
        }
    );
    assert_eq!(deployment.attribution.tenant.as_deref(), Some("acme"));
    assert_eq!(deployment.attribution.account.as_deref(), Some("acc-7"));
    assert_eq!(deployment.attribution.workspace.as_deref(), Some("ws-42"));
    let service = report
        .resources
        .iter()
        .find(|r| r.kind == "Service")
        .expect("service");
    assert_eq!(
        service.relations,
        vec![Relation {
            kind: RelationKind::Selects,
            target: deployment.id.clone()
        }]
    );
}

#[test]
fn r_env_5_every_defect_of_domain_section_4_is_caught() {
    let report = scan(&["manifests/defects.yaml"]);
    let file = "manifests/defects.yaml";
    // 1. tenant-id missing, 2. resources, 3. plaintext secret, 4. exposure, 5. latest/no tag.
    assert_eq!(
        find(&report, "PLAT001", "legacy")[0].location.line,
        fixture_line(file, "metadata:")
    );
    let resources = find(&report, "PLAT002", "legacy");
    assert_eq!(
        resources.len(),
        1,
        "only the container without resources: {resources:?}"
    );
    assert!(resources[0].message.contains("container web"));
    let secrets = find(&report, "PLAT003", "legacy-config");
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert_eq!(
        secrets[0].location.line,
        fixture_line(file, "clientSecret:")
    );
    assert!(secrets[1].message.contains("db.password"));
    let exposure = &report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PLAT004")
        .collect::<Vec<_>>();
    assert_eq!(exposure.len(), 2, "LoadBalancer service and nginx ingress");
    assert_eq!(
        exposure[0].location.line,
        fixture_line(file, "type: LoadBalancer")
    );
    let images = find(&report, "PLAT005", "legacy");
    assert_eq!(images.len(), 2, "nginx:latest and untagged busybox");
    assert_eq!(
        images[0].location.line,
        fixture_line(file, "image: nginx:latest")
    );
    assert_eq!(
        images[1].location.line,
        fixture_line(file, "image: busybox")
    );
    for rule in [
        "PLAT006", "PLAT007", "PLAT008", "PLAT009", "PLAT010", "PLAT011", "PLAT012", "PLAT013",
    ] {
        assert!(!find(&report, rule, "legacy").is_empty(), "{rule} expected");
    }
    assert_eq!(
        find(&report, "PLAT012", "legacy")[0].location.line,
        fixture_line(file, "hostPort: 8080")
    );
    assert_eq!(
        find(&report, "PLAT013", "legacy")[0].location.line,
        fixture_line(file, "API_TOKEN")
    );
}

#[test]
fn malformed_document_is_reported_with_line_and_scan_goes_on() {
    let report = scan(&["manifests/defects.yaml"]);
    assert_eq!(report.problems.len(), 1);
    let problem = &report.problems[0];
    assert_eq!(problem.location.file, "manifests/defects.yaml");
    assert_eq!(
        problem.location.line,
        fixture_line("manifests/defects.yaml", "this: is: not")
    );
    assert!(
        problem.message.contains("(column 9)") && !problem.message.contains("at line 1"),
        "{}",
        problem.message
    );
    assert!(
        report.resources.iter().any(|r| r.kind == "Ingress"),
        "the document after the malformed one is still scanned"
    );
}

#[test]
fn ignore_annotation_silences_only_named_rules() {
    let report = scan(&["manifests/defects.yaml"]);
    let ingress: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.kind == "Ingress")
        .map(|f| f.rule_id.as_str())
        .collect();
    assert_eq!(
        ingress,
        vec!["PLAT004"],
        "PLAT006 ignored by annotation, PLAT004 kept"
    );
}

#[test]
fn argo_cd_application_repo_scans_without_false_failures() {
    let report = scan(&["manifests/argocd"]);
    assert_eq!(report.resources.len(), 2);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(report.skipped.is_empty());
    assert_eq!(FailOn::Warning.reached(report.counts()), 0);
}

#[test]
fn non_kubernetes_files_are_skipped_and_app_config_is_checked() {
    let report = scan(&["manifests/mixed"]);
    assert_eq!(
        report.skipped,
        vec![Skipped {
            file: "manifests/mixed/values.yaml".into(),
            reason: "not a Kubernetes object".into(),
            warning: false,
        }]
    );
    let app_config: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind == "app-config")
        .collect();
    assert_eq!(
        app_config.len(),
        1,
        "literal secret only, not the ${{}} reference"
    );
    assert_eq!(app_config[0].rule_id, "PLAT003");
    assert_eq!(
        app_config[0].location.line,
        fixture_line(
            "manifests/mixed/app-config.production.yaml",
            "clientSecret: 0123"
        )
    );
    let pod = report
        .resources
        .iter()
        .find(|r| r.kind == "Pod")
        .expect("pod from List in JSON");
    assert_eq!(pod.location.file, "manifests/mixed/list.json");
    assert!(
        find(&report, "PLAT001", "debug").is_empty(),
        "pod has a tenant label"
    );
    assert!(!find(&report, "PLAT006", "debug").is_empty());
}

#[test]
fn config_file_sets_severity_label_prefix_and_exclusions() {
    let config = ScanConfig::parse(
        r#"
label_prefix: example.org
required_labels: ["{prefix}/tenant-id", "team"]
severities:
  PLAT009: "off"
  PLAT005: note
exclude:
  - rule: PLAT010
    path: "manifests/*.yaml"
  - kind: Service
    name: "leg*"
allowed_ingress_classes: [nginx]
"#,
    )
    .expect("valid config");
    assert_eq!(
        config.required_labels,
        vec!["example.org/tenant-id", "team"]
    );
    let report = scan_with(
        &config,
        &["manifests/defects.yaml"],
        KustomizeRenderer::Disabled,
    );
    let rules = rules_of(&report);
    assert!(!rules.contains(&"PLAT009"), "turned off");
    assert!(!rules.contains(&"PLAT010"), "excluded by path glob");
    assert!(
        report.findings.iter().all(|f| f.kind != "Service"),
        "excluded by kind + name"
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.kind != "Ingress" || f.rule_id != "PLAT004")
    );
    assert!(
        find(&report, "PLAT005", "legacy")
            .iter()
            .all(|f| f.severity == Severity::Note)
    );
    let tenant = find(&report, "PLAT001", "legacy");
    assert!(tenant[0].message.contains("example.org/tenant-id"));
    assert!(ScanConfig::parse("severities: {PLAT999: error}").is_err());
    assert!(ScanConfig::parse("unknown_key: 1").is_err());
}

#[test]
fn config_is_discovered_under_dot_plat() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(ScanConfig::discover(dir.path()), None);
    std::fs::create_dir(dir.path().join(".plat")).expect("mkdir");
    std::fs::write(dir.path().join(".plat/scan.yaml"), "label_prefix: x.io\n").expect("write");
    let path = ScanConfig::discover(dir.path()).expect("found");
    assert_eq!(ScanConfig::load(&path).expect("loads").label_prefix, "x.io");
}

#[test]
fn fail_on_threshold_decides_exit() {
    let report = scan(&["manifests/defects.yaml"]);
    assert!(FailOn::Error.reached(report.counts()) > 0);
    assert!(FailOn::Warning.reached(report.counts()) > 0);
    assert_eq!(FailOn::Never.reached(report.counts()), 0);
    let warnings_only = SeverityCounts {
        warning: report.counts().warning,
        ..SeverityCounts::default()
    };
    assert_eq!(FailOn::Error.reached(warnings_only), 0);
    assert_eq!(
        FailOn::Warning.reached(warnings_only),
        warnings_only.warning
    );
    assert_eq!(FailOn::Warning.reached(SeverityCounts::default()), 0);
}

#[test]
fn missing_path_is_an_error_with_hint() {
    let config = ScanConfig::default();
    let mut report = ScanReport::new();
    let err = scan_paths(
        &[PathBuf::from("/nonexistent/plat")],
        &ManifestOptions::new(&config),
        &mut report,
    )
    .expect_err("missing path");
    assert!(matches!(err, ScanError::NotFound(_)));
    assert!(err.hint().is_some());
}

#[test]
fn kustomize_missing_renderer_marks_partial_and_scans_files() {
    let report = scan_with(
        &ScanConfig::default(),
        &["kustomize"],
        KustomizeRenderer::Command {
            program: "plat-no-such-kustomize".into(),
            args: vec![],
        },
    );
    assert!(report.partial);
    assert!(report.notes[0].contains("neither kustomize nor kubectl"));
    let deployment = report
        .resources
        .iter()
        .find(|r| r.kind == "Deployment")
        .expect("base scanned");
    assert_eq!(deployment.location.file, "kustomize/base/deployment.yaml");
}

#[test]
fn kustomize_dirs_are_rendered_and_mapped_back_to_sources() {
    let kubectl_present = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    let report = scan_with(
        &ScanConfig::default(),
        &["kustomize/overlays/prod"],
        KustomizeRenderer::Command {
            program: "kubectl".into(),
            args: vec!["kustomize".into()],
        },
    );
    if !kubectl_present {
        assert!(
            report.partial,
            "without kubectl the result must say partial"
        );
        return;
    }
    assert!(!report.partial, "{:?} {:?}", report.notes, report.problems);
    let deployment = report
        .resources
        .iter()
        .find(|r| r.kind == "Deployment")
        .expect("rendered");
    assert_eq!(deployment.name, "prod-api");
    assert_eq!(deployment.namespace.as_deref(), Some("prod"));
    assert_eq!(
        deployment.location,
        Location {
            file: "kustomize/base/deployment.yaml".into(),
            line: 1
        }
    );
    assert!(
        find(&report, "PLAT001", "prod-api").is_empty(),
        "overlay adds tenant label"
    );
    assert!(
        find(&report, "PLAT005", "prod-api").is_empty(),
        "overlay pins the image tag"
    );
}

#[test]
fn streaming_counts_many_documents_from_a_reader() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  a: b\n"
        ));
    }
    text.push_str("---\n{broken\n");
    let config = ScanConfig::default();
    let mut sink = CountingSink::default();
    scan_manifest_reader(
        "stdin",
        Cursor::new(text),
        &ManifestOptions::new(&config),
        &mut sink,
    )
    .expect("scan");
    assert_eq!(sink.resources, 2000);
    assert_eq!(sink.problems, 1);
    assert_eq!(
        sink.findings,
        2000 * 2 + 1,
        "each ConfigMap lacks tenant and platform labels, and the broken document is PLAT016"
    );
}

fn tf_report(file: &str) -> Result<ScanReport, ScanError> {
    let path = fixtures().join("tf").join(file);
    let mut report = ScanReport::new();
    let reader = std::fs::File::open(&path).expect("fixture");
    scan_tf_state(
        &format!("tf/{file}"),
        reader,
        &ScanConfig::default(),
        &mut report,
    )?;
    report.finish();
    Ok(report)
}

#[test]
fn r_env_5_terraform_show_json_inventory_tags_and_outputs() {
    let report = tf_report("show.json").expect("scans");
    let addresses: Vec<&str> = report
        .resources
        .iter()
        .filter_map(|r| r.address.as_deref())
        .collect();
    assert_eq!(addresses.len(), 4, "managed resources only: {addresses:?}");
    assert!(addresses.contains(&"module.aks.azurerm_key_vault.kv[0]"));
    let tagged: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PLAT014")
        .map(|f| f.resource.as_str())
        .collect();
    assert_eq!(
        tagged,
        vec![
            "module.aks.azurerm_kubernetes_cluster.this",
            "module.aks.azurerm_key_vault.kv[0]"
        ],
        "normalized tags on the resource group pass; terraform_data is not taggable"
    );
    let rg = report
        .resources
        .iter()
        .find(|r| r.kind == "azurerm_resource_group")
        .expect("rg");
    assert_eq!(rg.attribution.tenant.as_deref(), Some("acme"));
    let kv = report
        .resources
        .iter()
        .find(|r| r.kind == "azurerm_key_vault")
        .expect("kv");
    assert_eq!(kv.relations.len(), 2);
    assert!(
        kv.relations
            .iter()
            .all(|r| r.kind == RelationKind::DependsOn)
    );
    let outputs: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PLAT015")
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(outputs, vec!["kube_config"]);
}

#[test]
fn raw_tfstate_addresses_dependencies_and_redaction() {
    let report = tf_report("raw.tfstate").expect("scans");
    let ip = report
        .resources
        .iter()
        .find(|r| r.kind == "azurerm_public_ip")
        .expect("ip");
    assert_eq!(ip.id, "module.net.azurerm_public_ip.ip[\"edge\"]");
    assert_eq!(ip.relations[0].target, "azurerm_lb.edge");
    assert_eq!(ip.labels["api_token"], REDACTED);
    let outputs: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PLAT015")
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(outputs, vec!["db_connection_string"]);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule_id == "PLAT014" && f.resource == "azurerm_lb.edge")
    );
}

#[test]
fn unknown_state_version_is_a_clear_error() {
    let err = tf_report("v3.tfstate").expect_err("version 3 refused");
    assert!(matches!(err, ScanError::TfStateVersion { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("unsupported Terraform state format 3")
    );
    assert!(err.hint().expect("hint").contains("version\": 4"));
    let mut sink = CountingSink::default();
    let shape = scan_tf_state_value(
        "x",
        &serde_json::json!({"foo": 1}),
        &ScanConfig::default(),
        &mut sink,
    );
    assert!(matches!(shape, Err(ScanError::TfStateShape { .. })));
    let future = scan_tf_state_value(
        "x",
        &serde_json::json!({"format_version": "2.0"}),
        &ScanConfig::default(),
        &mut sink,
    );
    assert!(matches!(future, Err(ScanError::TfStateVersion { .. })));
}

fn everything() -> ScanReport {
    let mut report = scan(&["manifests", "kustomize"]);
    report.merge(tf_report("show.json").expect("tf"));
    report.merge(tf_report("raw.tfstate").expect("tf"));
    report.finish();
    report
}

#[test]
fn sensitive_values_are_redacted_in_every_reporter() {
    let report = everything();
    let entities =
        backstage::entities(&report, &backstage::BackstageOptions::default()).expect("entities");
    let outputs = [
        json::to_json(&report),
        json::to_yaml(&report),
        sarif::to_sarif(&report, "0.1.0", &[]).to_string(),
        github::annotations(&report).join("\n"),
        github::step_summary(&report),
        backstage::to_yaml(&entities),
        format!("{:?}", table::findings(&report)),
    ];
    for secret in [
        "Sup3r-S3cret",
        "LS0tLS1CRUdJTi",
        "hunter2",
        "s3cr3t-t0ken",
        "letmein",
        "0123456789abcdef0123",
    ] {
        for (i, output) in outputs.iter().enumerate() {
            assert!(!output.contains(secret), "reporter {i} leaks {secret}");
        }
    }
}

#[test]
fn sarif_is_github_compatible() {
    let report = scan(&["manifests/defects.yaml"]);
    let doc = sarif::to_sarif(&report, "0.1.0", &[]);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "plat");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), catalogue().len());
    for rule in rules {
        assert!(
            rule["fullDescription"]["text"]
                .as_str()
                .expect("text")
                .len()
                <= 1000
        );
        assert!(rule["help"]["text"].is_string());
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), report.findings.len());
    for result in results {
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            "manifests/defects.yaml"
        );
        assert!(location["region"]["startLine"].as_u64().expect("line") >= 1);
        let rule_index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[rule_index]["id"], result["ruleId"]);
        assert!(result["partialFingerprints"]["primaryLocationLineHash"].is_string());
    }
    let clean = sarif::to_sarif(&scan(&["manifests/clean.yaml"]), "0.1.0", &[]);
    assert_eq!(
        clean["runs"][0]["results"],
        Value::Array(vec![]),
        "results: [] when clean"
    );
}

#[test]
fn fingerprints_survive_line_moves() {
    let text = std::fs::read_to_string(fixtures().join("manifests/defects.yaml")).expect("fixture");
    let config = ScanConfig::default();
    let run = |text: String| {
        let mut report = ScanReport::new();
        scan_manifest_reader(
            "a.yaml",
            Cursor::new(text),
            &ManifestOptions::new(&config),
            &mut report,
        )
        .expect("scan");
        report.finish();
        report
    };
    let before = run(text.clone());
    let after = run(format!("# moved\n\n\n{text}"));
    let prints = |r: &ScanReport| {
        r.findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(prints(&before), prints(&after));
    assert_eq!(
        after.findings[0].location.line,
        before.findings[0].location.line + 3
    );
}

#[test]
fn github_annotations_and_summary() {
    let report = scan(&["manifests/defects.yaml"]);
    let lines = github::annotations(&report);
    assert_eq!(lines.len(), report.findings.len());
    let line = fixture_line("manifests/defects.yaml", "image: nginx:latest");
    let expected_prefix = format!(
        "::error file=manifests/defects.yaml,line={line},endLine={line},title=PLAT005 image-not-pinned::"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&expected_prefix)),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("::warning ")));
    let summary = github::step_summary(&report);
    assert!(summary.starts_with("## plat scan"));
    assert!(summary.contains("| error | PLAT005 |"));
    let clean = github::step_summary(&scan(&["manifests/clean.yaml"]));
    assert!(clean.contains("No findings."));
}

#[test]
fn backstage_entities_are_valid_unique_and_linked() {
    let report = everything();
    let options = backstage::BackstageOptions {
        environment: Some("env-42".into()),
        ..Default::default()
    };
    let entities = backstage::entities(&report, &options).expect("entities");
    let name_ok = regex::Regex::new(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$").expect("regex");
    let mut names = std::collections::HashSet::new();
    for entity in &entities {
        let name = entity["metadata"]["name"].as_str().expect("name");
        assert!(
            name.len() <= 63 && name_ok.is_match(name),
            "invalid name {name}"
        );
        let kind = entity["kind"].as_str().expect("kind");
        assert!(
            names.insert(format!("{kind}/{}", name.to_lowercase())),
            "duplicate {name}"
        );
        assert!(entity["spec"]["owner"].is_string());
    }
    let systems: Vec<&Value> = entities.iter().filter(|e| e["kind"] == "System").collect();
    assert_eq!(systems.len(), 1, "one system for the environment");
    let system_name = systems[0]["metadata"]["name"].as_str().expect("system");
    let resources: Vec<&Value> = entities
        .iter()
        .filter(|e| e["kind"] == "Resource")
        .collect();
    assert_eq!(resources.len(), report.resources.len());
    for resource in &resources {
        assert_eq!(resource["spec"]["system"], system_name);
        for dep in resource["spec"]["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let target = dep
                .as_str()
                .expect("ref")
                .strip_prefix("resource:default/")
                .expect("resource ref");
            assert!(
                names.contains(&format!("Resource/{target}")),
                "dangling dependsOn {target}"
            );
        }
    }
    let kv = resources
        .iter()
        .find(|e| {
            e["metadata"]["annotations"]["appgear.io/terraform-address"]
                == "module.aks.azurerm_key_vault.kv[0]"
        })
        .expect("kv entity");
    assert_eq!(kv["spec"]["dependsOn"].as_array().expect("deps").len(), 2);
    let service = resources
        .iter()
        .find(|e| {
            e["metadata"]["annotations"]["appgear.io/resource-id"] == "core/Service/shop/checkout"
        })
        .expect("service entity");
    assert_eq!(
        service["metadata"]["annotations"]["backstage.io/kubernetes-id"],
        "checkout"
    );
    assert_eq!(
        service["spec"]["dependsOn"]
            .as_array()
            .expect("selects deployment")
            .len(),
        1
    );
    let yaml = backstage::to_yaml(&entities);
    assert_eq!(yaml.matches("---\n").count(), entities.len());
}

#[test]
fn backstage_names_fit_63_chars_and_differ_for_same_type() {
    let long = "x".repeat(200);
    let make = |id: &str| Resource {
        id: id.into(),
        origin: Origin::Terraform,
        kind: "aws_lb_target_group_attachment".into(),
        api_version: None,
        name: long.clone(),
        namespace: None,
        address: Some(format!("module.{long}.aws_lb_target_group_attachment.{id}")),
        location: Location {
            file: "s".into(),
            line: 1,
        },
        labels: Default::default(),
        annotations: Default::default(),
        attribution: Default::default(),
        relations: vec![],
        pod_labels: None,
        selector: None,
    };
    let a = backstage::entity_name(&make("a"), 0);
    let b = backstage::entity_name(&make("b"), 0);
    assert!(a.len() <= 63 && b.len() <= 63);
    assert_ne!(a, b);
    assert_eq!(
        backstage::slug("Deployment--shop__API"),
        "deployment-shop_api"
    );
}

#[test]
fn json_and_yaml_reports_hold_inventory_and_findings() {
    let report = everything();
    let parsed: Value = serde_json::from_str(&json::to_json(&report)).expect("json");
    assert_eq!(parsed["schema_version"], 1);
    assert_eq!(parsed["summary"]["resources"], report.resources.len());
    assert_eq!(
        parsed["findings"].as_array().expect("findings").len(),
        report.findings.len()
    );
    assert_eq!(
        parsed["findings"][0]["rule_id"],
        report.findings[0].rule_id.as_str()
    );
    let yaml: Value = serde_yaml_ng::from_str(&json::to_yaml(&report)).expect("yaml");
    assert_eq!(yaml["summary"], parsed["summary"]);
}

#[test]
fn table_groups_findings_by_file_with_counts() {
    let report = everything();
    let view = table::findings(&report);
    let defects = view
        .groups
        .iter()
        .find(|g| g.title.starts_with("manifests/defects.yaml"))
        .expect("group");
    assert_eq!(
        defects.title,
        format!("manifests/defects.yaml ({} findings)", defects.rows.len())
    );
    let total: usize = view
        .by_rule
        .rows
        .iter()
        .map(|r| r[3].parse::<usize>().expect("count"))
        .sum();
    assert_eq!(total, report.findings.len());
    assert!(
        view.summary
            .contains(&format!("{} resources", report.resources.len()))
    );
}

#[test]
fn catalogue_ids_are_stable_and_documented() {
    let ids: Vec<&str> = catalogue().iter().map(|r| r.id.as_ref()).collect();
    // PLAT001-017 for Kubernetes and files; the cloud baseline by provider: AWS from 101,
    // Azure from 120, GCP from 140.
    let expected: Vec<String> = (1..=17)
        .chain(101..=114)
        .chain(120..=130)
        .chain(140..=150)
        .map(|i| format!("PLAT{i:03}"))
        .collect();
    assert_eq!(ids, expected);
    assert!(
        catalogue()
            .iter()
            .all(|r| !r.fix.is_empty() && !r.description.is_empty())
    );
}

#[cfg(feature = "kube")]
mod cluster {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::kube::{KubeProgress, KubeScanOptions, scan_cluster};
    use super::*;

    /// Serves recorded API responses on loopback; returns the base URL and the request log.
    async fn recorded_api_server() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    log.lock().expect("log").push(target.clone());
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let fixture = match path {
                        "/api" => Some("api.json"),
                        "/api/v1" => Some("api_v1.json"),
                        "/apis" => Some("apis.json"),
                        "/apis/apps/v1" => Some("apis_apps_v1.json"),
                        "/api/v1/namespaces" => Some("namespaces.json"),
                        "/api/v1/pods" | "/api/v1/namespaces/shop/pods"
                            if query.contains("continue=") =>
                        {
                            Some("pods_page2.json")
                        }
                        "/api/v1/pods" | "/api/v1/namespaces/shop/pods" => Some("pods_page1.json"),
                        "/api/v1/services" | "/api/v1/namespaces/shop/services" => {
                            Some("services.json")
                        }
                        "/apis/apps/v1/deployments"
                        | "/apis/apps/v1/namespaces/shop/deployments" => Some("deployments.json"),
                        "/api/v1/secrets" | "/api/v1/namespaces/shop/secrets" => {
                            Some("forbidden.json")
                        }
                        _ => None,
                    };
                    let (status, body) = match fixture {
                        Some("forbidden.json") => ("403 Forbidden", read_fixture("forbidden.json")),
                        Some(name) => ("200 OK", read_fixture(name)),
                        None => ("404 Not Found", r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}"#.to_string()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        (format!("http://{addr}"), requests)
    }

    fn read_fixture(name: &str) -> String {
        std::fs::read_to_string(fixtures().join("kube").join(name)).expect("recorded response")
    }

    async fn client(url: &str) -> ::kube::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ::kube::Config::new(url.parse().expect("uri"));
        ::kube::Client::try_from(config).expect("client")
    }

    #[tokio::test]
    async fn live_cluster_discovery_lists_every_listable_type() {
        let (url, requests) = recorded_api_server().await;
        let config = ScanConfig::default();
        let mut options = KubeScanOptions::new(&config, "test");
        options.page_size = 1;
        let mut report = ScanReport::new();
        let mut events = Vec::new();
        scan_cluster(client(&url).await, &options, &mut report, &mut |p| {
            events.push(p)
        })
        .await
        .expect("scan");
        report.finish();
        assert_eq!(events[0], KubeProgress::Discovered { resource_types: 7 });
        assert!(events.contains(&KubeProgress::Skipped {
            api_version: "v1".into(),
            kind: "Binding".into(),
            reason: "not listable".into()
        }));
        assert!(events.contains(&KubeProgress::Listed {
            api_version: "v1".into(),
            kind: "Pod".into(),
            count: 2
        }));
        let kinds: Vec<&str> = report.resources.iter().map(|r| r.kind.as_str()).collect();
        for kind in ["Namespace", "Pod", "Service", "Deployment"] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        assert_eq!(
            report.resources.len(),
            5,
            "two pod pages, namespace, service, deployment"
        );
        assert!(report.partial, "forbidden secrets make the scan partial");
        assert!(report.notes[0].contains("secrets"));
        let log = requests.lock().expect("log").clone();
        assert!(
            log.iter()
                .any(|r| r.starts_with("/api/v1/pods?") && r.contains("continue=")),
            "{log:?}"
        );
        assert!(
            !log.iter().any(|r| r.starts_with("/api/v1/events")),
            "events are skipped"
        );

        let pod = report
            .resources
            .iter()
            .find(|r| r.name == "web-7d4b9c-abcde")
            .expect("pod");
        assert_eq!(pod.origin, Origin::Cluster);
        assert_eq!(pod.relations[0].target, "apps/ReplicaSet/shop/web-7d4b9c");
        assert_eq!(pod.location.file, "cluster:test/shop");
        let service = report
            .resources
            .iter()
            .find(|r| r.kind == "Service")
            .expect("service");
        assert!(
            service.annotations.is_empty(),
            "last-applied-configuration is dropped"
        );
        assert!(
            service
                .relations
                .iter()
                .any(|r| r.target == "apps/Deployment/shop/web")
        );
        let rules = rules_of(&report);
        for rule in ["PLAT004", "PLAT005", "PLAT010", "PLAT013"] {
            assert!(rules.contains(&rule), "{rule} expected in {rules:?}");
        }
        assert!(!json::to_json(&report).contains("pl41n-text-pw"));
    }

    #[tokio::test]
    async fn namespace_filter_skips_cluster_scoped_types() {
        let (url, requests) = recorded_api_server().await;
        let config = ScanConfig::default();
        let mut options = KubeScanOptions::new(&config, "test");
        options.namespace = Some("shop".into());
        let mut report = ScanReport::new();
        let mut events = Vec::new();
        scan_cluster(client(&url).await, &options, &mut report, &mut |p| {
            events.push(p)
        })
        .await
        .expect("scan");
        assert!(
            report
                .resources
                .iter()
                .all(|r| r.namespace.as_deref() == Some("shop"))
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, KubeProgress::Skipped { kind, .. } if kind == "Namespace"))
        );
        let log = requests.lock().expect("log").clone();
        assert!(
            log.iter()
                .any(|r| r.starts_with("/api/v1/namespaces/shop/pods"))
        );
        assert!(!log.iter().any(|r| r.starts_with("/api/v1/namespaces?")));
    }

    #[tokio::test]
    async fn unreachable_cluster_is_an_error_with_hint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let config = ScanConfig::default();
        let options = KubeScanOptions::new(&config, "gone");
        let mut report = ScanReport::new();
        let err = scan_cluster(client(&url).await, &options, &mut report, &mut |_| {})
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, ScanError::Kube(_)));
        assert!(err.hint().is_some());
    }
}

#[test]
fn explicit_files_are_scanned_whatever_their_extension_and_json_streams_keep_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("deploy.txt");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  type: NodePort\n",
    )
    .expect("write");
    let stream = dir.path().join("objects.json");
    std::fs::write(
        &stream,
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"one\"}}\n\n\
         {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"two\"},\n \"spec\":{\"type\":\"LoadBalancer\"}}\n\
         {\"broken\": \n",
    )
    .expect("write");
    let config = ScanConfig::default();
    let mut options = ManifestOptions::new(&config);
    options.root = Some(dir.path().to_path_buf());
    let mut report = ScanReport::new();
    scan_paths(&[manifest, stream], &options, &mut report).expect("scan");
    report.finish();
    let exposed: Vec<(&str, u32)> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PLAT004")
        .map(|f| (f.location.file.as_str(), f.location.line))
        .collect();
    assert_eq!(exposed, vec![("deploy.txt", 6), ("objects.json", 3)]);
    let problem = &report.problems[0];
    assert_eq!(
        (problem.location.file.as_str(), problem.location.line),
        ("objects.json", 6)
    );
}

// ---- failures fail, hostile input, identities (issues 14, 15, 17) ----

fn scan_text(name: &str, text: &str, skip_unparsable: bool) -> ScanReport {
    let config = ScanConfig::default();
    let mut options = ManifestOptions::new(&config);
    options.skip_unparsable = skip_unparsable;
    let mut report = ScanReport::new();
    scan_manifest_reader(name, Cursor::new(text.to_string()), &options, &mut report).expect("scan");
    report.finish();
    report
}

fn scan_dir_of(dir: &Path, skip_unparsable: bool) -> ScanReport {
    let config = ScanConfig::default();
    let mut options = ManifestOptions::new(&config);
    options.root = Some(dir.to_path_buf());
    options.skip_unparsable = skip_unparsable;
    let mut report = ScanReport::new();
    scan_paths(&[dir.to_path_buf()], &options, &mut report).expect("scan runs");
    report.finish();
    report
}

#[test]
fn plat016_unparsable_files_are_error_findings_with_file_and_line_unless_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.yaml"), "a: 1\nkind: [unclosed\n").expect("write");
    std::fs::write(dir.path().join("binary.yaml"), [0xff, 0xfe, 0x00, 0x9f]).expect("write");
    std::fs::write(dir.path().join("bad.json"), "{\"kind\": ").expect("write");
    let report = scan_dir_of(dir.path(), false);
    let mut unparsable: Vec<(&str, u32)> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == rules::UNPARSABLE)
        .map(|f| (f.location.file.as_str(), f.location.line))
        .collect();
    unparsable.sort();
    assert_eq!(
        unparsable,
        vec![("bad.json", 1), ("bad.yaml", 3), ("binary.yaml", 1)]
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity == Severity::Error)
    );
    assert!(
        FailOn::Error.reached(report.counts()) > 0,
        "a repository of broken files must fail"
    );
    let skipped = scan_dir_of(dir.path(), true);
    assert!(skipped.findings.is_empty(), "{:?}", skipped.findings);
    assert_eq!(skipped.problems.len(), 3, "still warned about");
    assert_eq!(FailOn::Warning.reached(skipped.counts()), 0);
}

#[test]
fn plat016_a_100k_deep_document_is_refused_as_too_deep() {
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let report = scan_text("deep.yaml", &deep, false);
    assert_eq!(rules_of(&report), vec![rules::UNPARSABLE]);
    assert!(
        report.findings[0]
            .message
            .contains("nested deeper than 256"),
        "{}",
        report.findings[0].message
    );
    let dashes = format!("{}x\n", "- ".repeat(5_000));
    assert!(
        scan_text("dashes.yaml", &dashes, false).findings[0]
            .message
            .contains("nested deeper")
    );
    let shallow = "a: [[[1]]]\nb: |\n  [[[[[[[[[[[[\n";
    assert_eq!(manifest::too_deep(shallow, 5), None);
}

#[test]
fn plat016_endless_input_is_cut_at_the_document_limit() {
    let endless = std::io::Read::take(std::io::repeat(b'a'), 70 * 1024 * 1024);
    let config = ScanConfig::default();
    let mut report = ScanReport::new();
    scan_manifest_reader(
        "-",
        std::io::BufReader::new(endless),
        &ManifestOptions::new(&config),
        &mut report,
    )
    .expect("scan");
    assert_eq!(rules_of(&report), vec![rules::UNPARSABLE]);
    assert!(report.findings[0].message.contains("larger than 64 MiB"));
}

#[cfg(unix)]
#[test]
fn broken_symlinks_and_special_files_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::os::unix::fs::symlink("nowhere.yaml", root.join("dangling.yaml")).expect("symlink");
    std::os::unix::fs::symlink("loop.yaml", root.join("loop.yaml")).expect("symlink");
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.yaml")).expect("symlink");
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    std::fs::write(
        root.join("ok.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n",
    )
    .expect("write");
    let report = scan_dir_of(root, false);
    assert_eq!(report.resources.len(), 1, "the rest is scanned");
    let mut warned: Vec<&str> = report
        .skipped
        .iter()
        .filter(|s| s.warning)
        .map(|s| s.file.as_str())
        .collect();
    warned.sort();
    assert_eq!(
        warned,
        vec!["dangling.yaml", "loop.yaml", "pipe.yaml", "zero.yaml"]
    );
    let named = ScanConfig::default();
    let err = scan_paths(
        &[PathBuf::from("/dev/zero")],
        &ManifestOptions::new(&named),
        &mut ScanReport::new(),
    )
    .expect_err("a device is refused");
    assert_eq!(err.code(), "not_a_regular_file");
}

#[test]
fn helm_charts_are_skipped_with_a_hint_and_templates_fed_directly_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("charts/web");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: web\n").expect("write");
    std::fs::write(
        chart.join("templates/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  {{- include \"x\" . | nindent 4 }}\n",
    )
    .expect("write");
    let report = scan_dir_of(dir.path(), false);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("helm template charts/web | plat scan -")),
        "{:?}",
        report.notes
    );
    let text = std::fs::read_to_string(chart.join("templates/deploy.yaml")).expect("read");
    let direct = scan_text("deploy.yaml", &text, false);
    assert!(
        direct.findings[0].message.contains("helm template"),
        "{:?}",
        direct.findings
    );
}

#[test]
fn r_env_5_yaml_1_1_booleans_are_read_as_kubernetes_reads_them() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostPID: yes\n  hostNetwork: on\n  containers:\n    - name: c\n      image: x:1\n      securityContext:\n        privileged: Yes\n";
    let report = scan_text("pod.yaml", pod, false);
    let host: Vec<u32> = find(&report, rules::HOST_NAMESPACES, "p")
        .iter()
        .map(|f| f.location.line)
        .collect();
    assert_eq!(host, vec![6, 7]);
    assert_eq!(find(&report, rules::PRIVILEGED, "p").len(), 1);
}

#[test]
fn plat007_probes_are_checked_on_bare_pods_but_not_on_run_to_completion_pods() {
    let pod = |policy: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{policy}  containers:\n    - name: c\n      image: x:1\n"
        )
    };
    assert_eq!(
        find(&scan_text("p.yaml", &pod(""), false), rules::PROBES, "p").len(),
        1
    );
    let batch = scan_text("p.yaml", &pod("  restartPolicy: Never\n"), false);
    assert!(find(&batch, rules::PROBES, "p").is_empty());
}

#[test]
fn plat017_committed_secrets_are_flagged_and_placeholders_are_not() {
    let secret = |data: &str| format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n{data}");
    let real = scan_text(
        "s.yaml",
        &secret("data:\n  password: aHVudGVyMg==\n"),
        false,
    );
    assert_eq!(find(&real, rules::SECRET_MANIFEST, "s").len(), 1);
    assert!(
        !find(&real, rules::SECRET_MANIFEST, "s")[0]
            .message
            .contains("hunter2")
    );
    // base64 of "changeme", then stringData placeholders
    let placeholders = secret(
        "data:\n  password: Y2hhbmdlbWU=\nstringData:\n  token: INSERT_GITHUB_TOKEN\n  key: <your-key>\n  other: ${FROM_ENV}\n",
    );
    assert!(
        find(
            &scan_text("s.yaml", &placeholders, false),
            rules::SECRET_MANIFEST,
            "s"
        )
        .is_empty()
    );
    for placeholder in [
        "INSERT_API_TOKEN",
        "changeme",
        "CHANGE_ME",
        "<token>",
        "xxxxxxxx",
        "YOUR_KEY_HERE",
    ] {
        assert!(rules::is_placeholder(placeholder), "{placeholder}");
    }
    assert!(!rules::is_placeholder("s3cr3t-Pa55w0rd"));
    let env = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: x:1\n      env:\n        - name: GITHUB_TOKEN\n          value: INSERT_GITHUB_TOKEN\n";
    assert!(find(&scan_text("p.yaml", env, false), rules::ENV_SECRET, "p").is_empty());
}

#[test]
fn fingerprints_hold_the_file_and_object_identity_not_the_line() {
    let object = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: NodePort\n";
    let other = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n";
    let print = |file: &str, text: &str| -> String {
        let report = scan_text(file, text, false);
        find(&report, rules::EXPOSED_SERVICE, "web")[0]
            .fingerprint
            .clone()
    };
    let top = print("a.yaml", object);
    let moved_down = print("a.yaml", &format!("{other}---\n{other}---\n{object}"));
    assert_eq!(
        top, moved_down,
        "moving the object down the file keeps its fingerprint"
    );
    assert_ne!(
        top,
        print("b.yaml", object),
        "the same object in another file is another alert"
    );
}

#[test]
fn backstage_names_are_unique_per_source_deterministic_and_never_stacked() {
    let object =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n";
    let mut report = ScanReport::new();
    for file in ["a.yaml", "b.yaml", "c.yaml"] {
        report.merge(scan_text(
            file,
            &format!("{object}---\n{object}---\n{object}"),
            false,
        ));
    }
    report.finish();
    let names = |report: &ScanReport| -> Vec<String> {
        backstage::entities(report, &backstage::BackstageOptions::default())
            .expect("entities")
            .iter()
            .filter(|e| e["kind"] == "Resource")
            .map(|e| e["metadata"]["name"].as_str().expect("name").to_string())
            .collect()
    };
    let first = names(&report);
    assert_eq!(first.len(), 9);
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 9, "{first:?}");
    for name in &first {
        assert!(name.len() <= 63);
        let suffix = name.rsplit('-').next().expect("hash");
        assert_eq!(
            suffix.len(),
            8,
            "slug plus one hash, no stacked counters: {name}"
        );
    }
    assert_eq!(first, names(&report), "deterministic");
}

#[test]
fn github_annotations_come_most_severe_first() {
    let report = scan(&["manifests/defects.yaml"]);
    let lines = github::annotations(&report);
    let first_warning = lines
        .iter()
        .position(|l| l.starts_with("::warning "))
        .expect("warnings");
    assert!(
        lines[..first_warning]
            .iter()
            .all(|l| l.starts_with("::error "))
    );
    assert!(
        lines[first_warning..]
            .iter()
            .all(|l| !l.starts_with("::error "))
    );
    let summary = github::step_summary(&report);
    assert!(summary.contains("| Severity | Rule | Name | Findings |"));
}

#[test]
fn sarif_lists_unparsable_files_as_notifications_and_results() {
    let report = scan_text("broken.yaml", "kind: [\n", false);
    let sarif = sarif::to_sarif(&report, "0.0.0", &[]);
    let run = &sarif["runs"][0];
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "broken.yaml"
    );
    assert_eq!(run["results"][0]["ruleId"], rules::UNPARSABLE);
    assert_eq!(
        run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
}

#[test]
fn streamed_sarif_holds_the_same_results_as_the_collected_report() {
    use super::report::stream::{StreamFormat, StreamingReport};
    let text = std::fs::read_to_string(fixtures().join("manifests/defects.yaml")).expect("fixture");
    let config = ScanConfig::default();
    let mut out = Vec::new();
    let mut sink =
        StreamingReport::start(&mut out, StreamFormat::Sarif, &[], "0.0.0", None).expect("start");
    scan_manifest_reader(
        "d.yaml",
        Cursor::new(text.clone()),
        &ManifestOptions::new(&config),
        &mut sink,
    )
    .expect("scan");
    let outcome = sink.finish().expect("finish");
    let streamed: Value = serde_json::from_slice(&out).expect("one JSON document");
    let collected = sarif::to_sarif(&scan_text("d.yaml", &text, false), "0.0.0", &[]);
    let results = |sarif: &Value| {
        let mut results: Vec<String> = sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(Value::to_string)
            .collect();
        results.sort();
        results
    };
    assert_eq!(results(&streamed), results(&collected));
    assert_eq!(streamed["runs"][0]["tool"], collected["runs"][0]["tool"]);
    assert_eq!(
        streamed["runs"][0]["invocations"],
        collected["runs"][0]["invocations"]
    );
    assert_eq!(
        outcome.summary.counts.error + outcome.summary.counts.warning,
        results(&streamed).len()
    );
}

#[test]
fn streamed_github_annotations_come_most_severe_first() {
    use super::report::stream::{StreamFormat, StreamingReport};
    let text = std::fs::read_to_string(fixtures().join("manifests/defects.yaml")).expect("fixture");
    let config = ScanConfig::default();
    let mut out = Vec::new();
    let mut sink =
        StreamingReport::start(&mut out, StreamFormat::Github, &[], "0.0.0", None).expect("start");
    scan_manifest_reader(
        "d.yaml",
        Cursor::new(text),
        &ManifestOptions::new(&config),
        &mut sink,
    )
    .expect("scan");
    let outcome = sink.finish().expect("finish");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let errors = outcome.summary.counts.error;
    assert!(errors > 0 && outcome.summary.counts.warning > 0);
    assert!(
        lines[..errors].iter().all(|l| l.starts_with("::error ")),
        "{text}"
    );
    assert!(
        lines[errors..].iter().all(|l| l.starts_with("::warning ")),
        "{text}"
    );
    let markdown = github::summary_markdown(&outcome.summary);
    assert!(
        markdown.contains("| error | PLAT005 | image-not-pinned |"),
        "{markdown}"
    );
}

/// Scans `text` through the streaming reporter in `format`, giving its output and outcome.
fn stream_text(
    format: super::report::stream::StreamFormat,
    name: &str,
    text: &str,
) -> (Vec<u8>, super::report::stream::StreamOutcome) {
    use super::report::stream::StreamingReport;
    let config = ScanConfig::default();
    let mut out = Vec::new();
    let mut sink = StreamingReport::start(&mut out, format, &[], "0.0.0", None).expect("start");
    scan_manifest_reader(
        name,
        Cursor::new(text.to_string()),
        &ManifestOptions::new(&config),
        &mut sink,
    )
    .expect("scan");
    let outcome = sink.finish().expect("finish");
    (out, outcome)
}

/// The defects fixture, a Service listed before the workloads it selects and one after, an
/// unparsable document and a bare Pod: every part of the document has something in it.
fn document_corpus() -> String {
    let defects =
        std::fs::read_to_string(fixtures().join("manifests/defects.yaml")).expect("fixture");
    let service = |name: &str| {
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n  labels:\n    backstage.io/kubernetes-id: shop-{name}\nspec:\n  selector:\n    app: web\n    tier: front\n"
        )
    };
    let workload = |name: &str| {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n        tier: front\n    spec:\n      containers: []\n"
        )
    };
    format!(
        "{defects}\n{}{}{}---\nkind: [unclosed\n{}",
        service("early"),
        workload("web-a"),
        workload("web-b"),
        service("late")
    )
}

#[test]
fn streamed_json_is_the_collected_document_byte_for_byte() {
    use super::report::stream::StreamFormat;
    let text = document_corpus();
    let (out, outcome) = stream_text(StreamFormat::Json, "d.yaml", &text);
    let collected = scan_text("d.yaml", &text, false);
    let expected = format!("{}\n", json::to_json(&collected));
    assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    // Every finding and the summary are there, and the Services were linked.
    let document: Value = serde_json::from_str(&expected).expect("JSON");
    assert_eq!(
        document["findings"].as_array().expect("findings").len(),
        collected.findings.len()
    );
    assert_eq!(
        document["summary"]["findings"]["error"],
        outcome.summary.counts.error
    );
    let selects = document["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["kind"] == "Service")
        .map(|r| r["relations"].as_array().map_or(0, Vec::len))
        .collect::<Vec<_>>();
    assert!(
        selects.iter().filter(|&&n| n == 2).count() >= 2,
        "{selects:?}"
    );
}

#[test]
fn streamed_yaml_is_the_collected_document_byte_for_byte() {
    use super::report::stream::StreamFormat;
    let text = document_corpus();
    let (out, _) = stream_text(StreamFormat::Yaml, "d.yaml", &text);
    let collected = scan_text("d.yaml", &text, false);
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        json::to_yaml(&collected)
    );
}

#[test]
fn streamed_documents_of_a_clean_scan_have_empty_arrays() {
    use super::report::stream::StreamFormat;
    let (json_out, _) = stream_text(StreamFormat::Json, "empty.yaml", "");
    let collected = scan_text("empty.yaml", "", false);
    assert_eq!(
        String::from_utf8(json_out).expect("utf-8"),
        format!("{}\n", json::to_json(&collected))
    );
    let (yaml_out, _) = stream_text(StreamFormat::Yaml, "empty.yaml", "");
    assert_eq!(
        String::from_utf8(yaml_out).expect("utf-8"),
        json::to_yaml(&collected)
    );
}

#[test]
fn streamed_tables_split_a_big_file_into_chunks_and_count_every_finding() {
    use super::report::stream::{StreamFormat, StreamingReport};
    use super::report::table::{CHUNK_ROWS, Table};
    use std::sync::{Arc, Mutex};
    // One finding per object (no probes on a long-running workload is not raised for a Job).
    let object = |i: usize| {
        format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  namespace: shop\n"
        )
    };
    let text: String = (0..CHUNK_ROWS * 2 + 7).map(object).collect();
    let expected = scan_text("big.yaml", &text, false);
    let printed: Arc<Mutex<Vec<Table>>> = Arc::default();
    let sink_tables = Arc::clone(&printed);
    let config = ScanConfig::default();
    let mut sink = StreamingReport::start(
        std::io::sink(),
        StreamFormat::Table,
        &[],
        "0.0.0",
        Some(Box::new(move |table: &Table| {
            sink_tables.lock().expect("lock").push(table.clone());
        })),
    )
    .expect("start");
    scan_manifest_reader(
        "big.yaml",
        Cursor::new(text.clone()),
        &ManifestOptions::new(&config),
        &mut sink,
    )
    .expect("scan");
    sink.finish().expect("finish");
    let tables = printed.lock().expect("lock");
    let (by_rule, files) = tables.split_last().expect("tables");
    assert_eq!(by_rule.title, "Findings by rule");
    assert!(files.len() > 2, "{} tables", files.len());
    assert!(files.iter().all(|t| t.rows.len() <= CHUNK_ROWS));
    let rows: Vec<&Vec<String>> = files.iter().flat_map(|t| &t.rows).collect();
    let total = expected.findings.len();
    assert_eq!(rows.len(), total);
    assert_eq!(
        rows,
        table::findings(&expected).groups[0]
            .rows
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        files[0].title,
        format!("big.yaml (findings 1-{CHUNK_ROWS}, continued below)")
    );
    assert!(
        files[files.len() - 1]
            .title
            .ends_with(&format!("of {total})")),
        "{}",
        files[files.len() - 1].title
    );
    let counted: usize = by_rule
        .rows
        .iter()
        .map(|r| r[3].parse::<usize>().expect("count"))
        .sum();
    assert_eq!(counted, total);
}

#[test]
fn service_linking_relates_many_copies_of_one_app_once_each() {
    let app = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers: []\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    app: web\n";
    let mut report = ScanReport::new();
    for copy in 0..563 {
        report.merge(scan_text(&format!("copy-{copy}.yaml"), app, false));
    }
    report.finish();
    let services: Vec<&Resource> = report
        .resources
        .iter()
        .filter(|r| r.kind == "Service")
        .collect();
    assert_eq!(services.len(), 563);
    for service in services {
        let selects: Vec<&Relation> = service
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::Selects)
            .collect();
        assert_eq!(selects.len(), 1, "one distinct target");
        assert_eq!(selects[0].target, "apps/Deployment/shop/web");
    }
}

#[test]
fn the_ignore_annotation_is_read_under_the_label_prefix_and_its_deprecated_alias() {
    let config = ScanConfig::with_prefix("example.org");
    let own = BTreeMap::from([(
        "example.org/ignore".to_owned(),
        "plat004, plat007".to_owned(),
    )]);
    assert_eq!(config.ignored_rules(&own), ["PLAT004", "PLAT007"]);
    let deprecated = BTreeMap::from([("plat.io/ignore".to_owned(), "PLAT005".to_owned())]);
    assert_eq!(config.ignored_rules(&deprecated), ["PLAT005"]);
    let elsewhere = BTreeMap::from([("other.io/ignore".to_owned(), "PLAT005".to_owned())]);
    assert!(config.ignored_rules(&elsewhere).is_empty());
}

#[test]
fn line_of_finds_the_first_line_holding_every_needle() {
    let text = "kind: Pod\r\nspec:\r\n  image: web\r\n  name: web\r\n  name: db image: db\r\n";
    let doc = rules::DocSource {
        file: "f.yaml",
        line: 10,
        text: Some(text),
        origin: Origin::Manifest,
    };
    assert_eq!(doc.line_of(&["name:"]), 13);
    // The first `name:` line lacks `image:`; the second has both.
    assert_eq!(doc.line_of(&["name:", "image:"]), 14);
    assert_eq!(doc.line_of(&["absent"]), 10);
    // A needle ending in the line break's `\r` matches no line, as `str::lines` strips it.
    assert_eq!(doc.line_of(&["web\r"]), 10);
    assert_eq!(doc.line_of(&["", "spec:"]), 11);
    assert_eq!(doc.line_of(&[]), 10);
}

#[test]
fn streamed_backstage_entities_are_the_collected_ones() {
    use super::report::stream::StreamFormat;
    let text = document_corpus();
    let (out, outcome) = stream_text(StreamFormat::Backstage, "d.yaml", &text);
    let collected = scan_text("d.yaml", &text, false);
    let expected = backstage::to_yaml(
        &backstage::entities(&collected, &backstage::BackstageOptions::default())
            .expect("entities"),
    );
    assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    assert!(expected.contains("dependsOn"), "{expected}");
    assert!(
        expected.contains("backstage.io/kubernetes-id: shop-early"),
        "{expected}"
    );
    assert_eq!(outcome.summary.resources, collected.resources.len());
    assert_eq!(outcome.summary.counts, collected.counts());
}
