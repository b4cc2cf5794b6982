//! Template resolution, event parsing and real Terraform/OpenTofu runs.
//!
//! The runner tests use the machine's binary: `PLAT_IAC_BIN` if set, else `tofu`/`terraform` on
//! `PATH` (CI provides one with scripts/install-terraform.sh). They fail, not skip, without it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as JsonValue, json};
use tokio::sync::mpsc;

use super::events::{self, REDACTED};
use super::runner::{self, LOG_FILE};
use super::*;

fn repo_root() -> PathBuf {
    // `file!()` is absolute when a scratch crate mounts this module by path, relative otherwise.
    let this_file = Path::new(file!());
    let absolute = if this_file.is_absolute() {
        this_file.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(this_file)
    };
    absolute
        .ancestors()
        .nth(3)
        .expect("src/iac/tests.rs")
        .to_path_buf()
}

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/iac")
}

fn builtin_templates() -> PathBuf {
    repo_root().join("templates/env")
}

fn params_template() -> Template {
    Template::load(&fixtures().join("params")).expect("params fixture loads")
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- templates

#[test]
fn catalog_discovers_the_builtin_demo_template() {
    let catalog = TemplateCatalog::discover(&[builtin_templates()]).unwrap();
    let demo = catalog.find("demo").unwrap();
    assert_eq!(
        demo.manifest.ttl.default,
        jiff::SignedDuration::from_mins(30)
    );
    assert_eq!(demo.manifest.ttl.max, jiff::SignedDuration::from_hours(4));
    let resolved = demo.resolve_params(BTreeMap::new(), None).unwrap();
    assert_eq!(resolved["node_count"], json!(2));
    assert_eq!(resolved["kubernetes_version"], json!("1.34"));
    assert_eq!(resolved["argocd_ha"], json!(false));
}

#[test]
fn earlier_roots_hide_later_templates_of_the_same_name_and_missing_roots_are_skipped() {
    let custom = tempfile::tempdir().unwrap();
    let demo_override = custom.path().join("my-demo");
    std::fs::create_dir(&demo_override).unwrap();
    std::fs::write(
        demo_override.join("plat-template.yaml"),
        "name: demo\ndescription: team override\n",
    )
    .unwrap();
    let catalog = TemplateCatalog::discover(&[
        custom.path().to_path_buf(),
        PathBuf::from("/nonexistent/plat/templates"),
        builtin_templates(),
        fixtures(),
    ])
    .unwrap();
    assert_eq!(
        catalog.find("demo").unwrap().manifest.description,
        "team override"
    );
    let names: Vec<_> = catalog.templates().iter().map(Template::name).collect();
    assert_eq!(names, ["demo", "failing", "invalid-hcl", "params", "slow"]);

    let error = catalog.find("nope").unwrap_err();
    assert!(matches!(&error, IacError::TemplateNotFound { known, .. } if known.len() == 5));
    assert!(
        error
            .to_string()
            .contains("demo, failing, invalid-hcl, params, slow"),
        "{error}"
    );
    assert!(error.hint().is_some());
}

#[test]
fn given_values_win_over_file_values_which_win_over_defaults() {
    let template = params_template();
    let file: BTreeMap<String, serde_yaml_ng::Value> =
        serde_yaml_ng::from_str("team: from-file\nreplicas: 2\ndebug: true\nowner_email: a@b.c\n")
            .unwrap();
    let resolved = template
        .resolve_params(
            strings(&[("team", "from-cli"), ("size", "large")]),
            Some(&file),
        )
        .unwrap();
    assert_eq!(resolved["team"], json!("from-cli"));
    assert_eq!(resolved["replicas"], json!(2));
    assert_eq!(resolved["debug"], json!(true));
    assert_eq!(resolved["size"], json!("large"));
    assert!(
        !resolved.contains_key("note"),
        "no value and no default: left to Terraform"
    );
}

#[test]
fn unknown_parameter_lists_the_known_ones() {
    let error = params_template()
        .resolve_params(strings(&[("colour", "blue")]), None)
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("unknown parameter `colour`"), "{message}");
    assert!(
        message.contains("team, replicas, size, debug, owner_email, note"),
        "{message}"
    );
    assert_eq!(error.code(), "unknown_parameter");
}

#[test]
fn bad_types_are_rejected_with_the_expected_type() {
    let template = params_template();
    let base = [("team", "core"), ("owner_email", "a@b.c")];
    for (name, value, expected) in [("replicas", "two", "number"), ("debug", "yes", "bool")] {
        let mut given = strings(&base);
        given.insert(name.into(), value.into());
        let error = template.resolve_params(given, None).unwrap_err();
        assert!(
            matches!(&error, IacError::InvalidParameterType { name: n, .. } if n == name),
            "{error:?}"
        );
        assert!(
            error.to_string().contains(&format!("must be a {expected}")),
            "{error}"
        );
    }
    let file: BTreeMap<String, serde_yaml_ng::Value> =
        serde_yaml_ng::from_str("team: [not, a, string]\nowner_email: a@b.c").unwrap();
    let error = template
        .resolve_params(BTreeMap::new(), Some(&file))
        .unwrap_err();
    assert!(
        matches!(error, IacError::InvalidParameterType { .. }),
        "{error:?}"
    );
}

#[test]
fn validation_failures_name_the_rule() {
    let template = params_template();
    let cases = [
        ("team", "Core Team", "does not match the pattern"),
        ("replicas", "9", "greater than the maximum 3"),
        ("replicas", "0", "less than the minimum 1"),
        ("size", "huge", "not one of: small, medium, large"),
    ];
    for (name, value, expected) in cases {
        let mut given = strings(&[("team", "core"), ("owner_email", "a@b.c")]);
        given.insert(name.into(), value.into());
        let error = template.resolve_params(given, None).unwrap_err();
        assert!(
            matches!(&error, IacError::ParameterValidation { name: n, .. } if n == name),
            "{error:?}"
        );
        assert!(
            error.to_string().contains(expected),
            "{name}={value}: {error}"
        );
    }
}

#[test]
fn all_missing_required_parameters_are_listed_at_once() {
    let error = params_template()
        .resolve_params(BTreeMap::new(), None)
        .unwrap_err();
    assert!(
        matches!(&error, IacError::MissingParameters { names } if names == &["team", "owner_email"]),
        "{error:?}"
    );
}

#[test]
fn durations_use_the_friendly_format() {
    assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
    assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
    assert_eq!(parse_duration("45s").unwrap().as_secs(), 45);
    assert_eq!(parse_duration("PT2H").unwrap().as_secs(), 7200);
    assert!(matches!(
        parse_duration("soon"),
        Err(IacError::InvalidDuration { .. })
    ));
    assert!(matches!(
        parse_duration("0s"),
        Err(IacError::InvalidDuration { .. })
    ));
}

#[test]
fn broken_manifests_are_rejected_with_their_path() {
    let cases = [
        (
            "parameters:\n  - name: x\n    pattern: '(['\n",
            "invalid pattern",
        ),
        ("parameters:\n  - name: plat_env\n", "reserved"),
        (
            "parameters:\n  - name: n\n    type: number\n    default: many\n",
            "default",
        ),
        ("parameters:\n  - name: s\n    min: 1\n", "numbers only"),
        ("ttl:\n  default: 2h\n  max: 1h\n", "longer than ttl.max"),
        ("ttl:\n  default: forever\n", "ttl.default"),
        ("colour: blue\n", "unknown field"),
    ];
    for (manifest, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!("name: broken\n{manifest}");
        std::fs::write(dir.path().join("plat-template.yaml"), &manifest).unwrap();
        let error = TemplateCatalog::discover(&[dir.path().to_path_buf()]).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, IacError::InvalidTemplate { .. }),
            "{manifest}: {message}"
        );
        assert!(message.contains(expected), "{manifest}: {message}");
        assert!(message.contains("plat-template.yaml"), "{message}");
    }
}

#[test]
fn param_file_must_be_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "team: core\nreplicas: 2\n").unwrap();
    let values = template::load_param_file(&good).unwrap();
    assert_eq!(values.len(), 2);
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "- a\n- b\n").unwrap();
    assert!(template::load_param_file(&bad).is_err());
}

// ---------------------------------------------------------------- events

#[test]
fn diagnostics_keep_file_and_line() {
    let line = r#"{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command: exit status 3","address":"terraform_data.fails","range":{"filename":"main.tf","start":{"line":8,"column":3,"byte":1},"end":{"line":8,"column":30,"byte":2}}},"type":"diagnostic"}"#;
    let IacEvent::Diagnostic(diagnostic) = events::parse_line(line) else {
        panic!("not a diagnostic");
    };
    assert_eq!(diagnostic.severity, Severity::Error);
    assert_eq!(diagnostic.location().as_deref(), Some("main.tf:8"));
    assert_eq!(diagnostic.address.as_deref(), Some("terraform_data.fails"));
    assert_eq!(
        diagnostic.to_string(),
        "Error: local-exec provisioner error (main.tf:8): Error running command: exit status 3"
    );
}

#[test]
fn hooks_summaries_and_text_lines_become_typed_events() {
    let complete = r#"{"@level":"info","@message":"x: Creation complete","hook":{"resource":{"addr":"terraform_data.x"},"action":"create","id_key":"id","id_value":"abc","elapsed_seconds":2},"type":"apply_complete"}"#;
    assert_eq!(
        events::parse_line(complete),
        IacEvent::ApplyComplete {
            address: "terraform_data.x".into(),
            action: "create".into(),
            id_key: Some("id".into()),
            id_value: Some("abc".into()),
            elapsed_seconds: 2
        }
    );
    let summary = r#"{"@level":"info","changes":{"add":4,"change":0,"import":0,"remove":1,"operation":"apply"},"type":"change_summary"}"#;
    let IacEvent::ChangeSummary { operation, changes } = events::parse_line(summary) else {
        panic!("not a summary");
    };
    assert_eq!(
        (operation.as_str(), changes.add, changes.remove),
        ("apply", 4, 1)
    );
    assert!(matches!(
        events::parse_line("Initializing the backend..."),
        IacEvent::Log { message, .. } if message == "Initializing the backend..."
    ));
    let serialized = serde_json::to_value(events::parse_line(summary)).unwrap();
    assert_eq!(serialized["type"], "change_summary");
    assert_eq!(serialized["add"], 4);
}

#[test]
fn sensitive_outputs_are_redacted_unless_revealed() {
    let outputs = Outputs(BTreeMap::from([
        (
            "password".to_string(),
            OutputValue::new(json!("hunter2"), true),
        ),
        (
            "url".to_string(),
            OutputValue::new(json!("https://x"), false),
        ),
    ]));
    let shown = format!(
        "{outputs} {outputs:?} {}",
        serde_json::to_string(&outputs).unwrap()
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains(REDACTED) && shown.contains("https://x"),
        "{shown}"
    );
    assert_eq!(outputs.reveal("password"), Some(&json!("hunter2")));
    assert_eq!(outputs.sensitive_values(), [&json!("hunter2")]);
}

#[test]
fn user_tf_variables_that_would_change_the_run_are_dropped() {
    let existing_config = tempfile::NamedTempFile::new().unwrap();
    let base: Vec<(OsString, OsString)> = [
        ("PATH", "/usr/bin"),
        ("HOME", "/home/u"),
        ("TF_CLI_ARGS_apply", "-parallelism=1 -refresh=false"),
        ("TF_VAR_plat_owner", "mallory"),
        ("TF_WORKSPACE", "other"),
        ("TF_DATA_DIR", "/tmp/elsewhere"),
        ("TF_HTTP_ADDRESS", "https://elsewhere"),
        ("TF_LOG", "TRACE"),
        ("TF_TOKEN_app_terraform_io", "token"),
        ("TF_PLUGIN_CACHE_DIR", "/cache"),
    ]
    .iter()
    .map(|(k, v)| (k.into(), v.into()))
    .chain([(
        "TF_CLI_CONFIG_FILE".into(),
        existing_config.path().as_os_str().to_owned(),
    )])
    .collect();
    let kept: Vec<String> = runner::sanitized_env_for_test(&base)
        .into_iter()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        kept,
        [
            "PATH",
            "HOME",
            "TF_TOKEN_app_terraform_io",
            "TF_PLUGIN_CACHE_DIR",
            "TF_CLI_CONFIG_FILE"
        ]
    );
    let missing_config = [(
        OsString::from("TF_CLI_CONFIG_FILE"),
        OsString::from("/no/such/file"),
    )];
    assert!(runner::sanitized_env_for_test(&missing_config).is_empty());
}

// ---------------------------------------------------------------- binary

#[tokio::test]
async fn missing_binary_is_a_clear_error_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    let error = IacBinary::locate(None, Some(empty.path().as_os_str()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, IacError::BinaryNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("tofu on PATH"), "{error}");
    assert!(error.hint().unwrap().contains("PLAT_IAC_BIN"));

    let error = IacBinary::locate(Some("/no/such/terraform".into()), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/no/such/terraform"), "{error}");
}

#[tokio::test]
async fn a_binary_that_is_not_terraform_is_reported_unusable() {
    let error = IacBinary::locate(Some("/bin/false".into()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, IacError::BinaryUnusable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn locate_cached_asks_for_the_version_once_per_binary_build() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let tofu = dir.path().join("tofu");
    let script = |version: &str| {
        format!(
            "#!/bin/sh\necho x >> '{}'\necho '{{\"terraform_version\":\"{version}\"}}'\n",
            calls.display()
        )
    };
    std::fs::write(&tofu, script("1.9.0")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tofu, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = dir.path().join("cache/iac-binary.json");
    let count = || std::fs::read_to_string(&calls).unwrap().lines().count();

    let first = IacBinary::locate_cached(None, Some(dir.path().as_os_str()), &cache)
        .await
        .unwrap();
    assert_eq!(
        (first.flavor, first.version.as_str()),
        (IacFlavor::OpenTofu, "1.9.0")
    );
    let second = IacBinary::locate_cached(None, Some(dir.path().as_os_str()), &cache)
        .await
        .unwrap();
    assert_eq!(
        (first, count()),
        (second, 1),
        "second lookup served from the cache"
    );

    std::fs::write(&tofu, script("1.10.10")).unwrap();
    let upgraded = IacBinary::locate_cached(None, Some(dir.path().as_os_str()), &cache)
        .await
        .unwrap();
    assert_eq!((upgraded.version.as_str(), count()), ("1.10.10", 2));
}

// The runner tests use the machine's real binary, found the way `plat` finds it.
#[allow(clippy::disallowed_methods)]
async fn real_binary() -> IacBinary {
    let explicit = std::env::var_os("PLAT_IAC_BIN").map(PathBuf::from);
    IacBinary::locate(explicit, std::env::var_os("PATH").as_deref())
        .await
        .expect("tests need tofu or terraform on PATH (or PLAT_IAC_BIN)")
}

#[tokio::test]
async fn locate_reports_the_version() {
    let binary = real_binary().await;
    assert!(binary.version.split('.').count() >= 3, "{binary:?}");
    assert!(binary.path.is_absolute());
}

// ---------------------------------------------------------------- runs

struct Env {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    state: PathBuf,
}

fn env_dirs() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let state = tmp.path().join("state/terraform.tfstate");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    Env {
        work,
        state,
        _tmp: tmp,
    }
}

fn plat_vars() -> PlatVariables {
    PlatVariables {
        env: "pr-42".into(),
        owner: "alice@example.com".into(),
        account: "acme".into(),
        tenant: "tenant-1".into(),
        expires_at: "2026-11-26T13:00:00Z".parse().unwrap(),
        label_prefix: None,
    }
}

fn base_env() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

async fn runner_for(
    template_dir: &Path,
    env: &Env,
    backend: Backend,
) -> (Runner, mpsc::UnboundedReceiver<IacEvent>) {
    let template = Template::load(template_dir).unwrap();
    let params = template.resolve_params(BTreeMap::new(), None).unwrap();
    let workspace = Workspace::create(&env.work, &template, &plat_vars(), &params).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let options = RunOptions {
        base_env: base_env(),
        plugin_cache_dir: None,
        init_cache_dir: None,
        events: Some(tx),
    };
    (
        Runner::new(real_binary().await, workspace, backend, options),
        rx,
    )
}

fn drain(rx: &mut mpsc::UnboundedReceiver<IacEvent>) -> Vec<IacEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn state_resources(state: &JsonValue) -> Vec<(String, JsonValue)> {
    state["resources"]
        .as_array()
        .map(|resources| {
            resources
                .iter()
                .map(|r| {
                    (
                        format!(
                            "{}.{}",
                            r["type"].as_str().unwrap(),
                            r["name"].as_str().unwrap()
                        ),
                        // `input` is dynamically typed: state keeps `{value, type}`.
                        r["instances"][0]["attributes"]["input"]["value"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn read_json(path: &Path) -> JsonValue {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn demo_template_applies_and_destroys_with_labels_events_and_redacted_outputs() {
    let env = env_dirs();
    let backend = Backend::Local {
        state_path: env.state.clone(),
    };
    let (runner, mut rx) = runner_for(&builtin_templates().join("demo"), &env, backend).await;
    let cancel = CancelHandle::new();

    let (summary, outputs) = runner.up(&cancel).await.unwrap();
    let events = drain(&mut rx);
    assert_eq!(summary.changes.unwrap().add, 4);
    let completed: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            IacEvent::ApplyComplete { address, .. } => Some(address.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(completed.len(), 4, "{events:#?}");
    assert!(completed.contains(&"terraform_data.argocd"));
    assert!(events.contains(&IacEvent::CommandStarted {
        command: IacCommand::Init
    }));
    assert!(events.iter().any(|e| matches!(e, IacEvent::Version { .. })));

    assert_eq!(
        outputs.reveal("kube_api_url"),
        Some(&json!("https://api.pr-42.envs.example.test:6443"))
    );
    let password = outputs
        .reveal("argocd_admin_password")
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(password.len(), 24);
    let shown = format!("{outputs}{}", serde_json::to_string(&outputs).unwrap());
    assert!(
        !shown.contains(password) && shown.contains(REDACTED),
        "{shown}"
    );
    assert!(
        summary
            .outputs
            .get("argocd_admin_password")
            .unwrap()
            .reveal()
            .is_none(),
        "the -json stream never carries sensitive values"
    );

    let state = read_json(&env.state);
    let resources = state_resources(&state);
    assert_eq!(resources.len(), 4);
    for (address, input) in &resources {
        // Cloud tags carry exact values; Kubernetes labels a label-safe form (no ':' or '@').
        let (labels, expires_at) = match input.get("tags") {
            Some(tags) => (tags, "2026-11-26T13:00:00Z"),
            None => (&input["labels"], "20261126T130000Z"),
        };
        assert_eq!(labels["appgear.io/tenant-id"], "tenant-1", "{address}");
        assert_eq!(labels["appgear.io/workspace-id"], "pr-42", "{address}");
        assert_eq!(labels["appgear.io/account-id"], "acme", "{address}");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "plat", "{address}");
        assert_eq!(labels["appgear.io/expires-at"], expires_at, "{address}");
    }
    let cluster_tags = &resources
        .iter()
        .find(|(a, _)| a.ends_with("kubernetes_cluster"))
        .unwrap()
        .1["tags"];
    assert_eq!(cluster_tags["appgear.io/owner"], "alice@example.com");

    let log = std::fs::read_to_string(env.work.join(LOG_FILE)).unwrap();
    assert!(log.contains(r#""type":"apply_complete""#));
    assert!(
        !log.contains(password),
        "sensitive values never reach the log"
    );

    // A second `up` reuses the initialised dir and changes nothing.
    let (again, _) = runner.up(&cancel).await.unwrap();
    assert_eq!(again.changes.unwrap().add, 0);
    assert!(!drain(&mut rx).contains(&IacEvent::CommandStarted {
        command: IacCommand::Init
    }));

    // `down` from a freshly opened work dir, as the reaper would.
    let reopened = Runner::new(
        runner.binary().clone(),
        Workspace::open(&env.work).unwrap(),
        Backend::Local {
            state_path: env.state.clone(),
        },
        RunOptions::default(),
    );
    let destroyed = reopened.down(&cancel).await.unwrap();
    assert_eq!(destroyed.changes.unwrap().remove, 4);
    assert!(state_resources(&read_json(&env.state)).is_empty());
    let again = reopened.down(&cancel).await.unwrap();
    assert_eq!(again.changes.unwrap().remove, 0, "down is idempotent");
    let replayed = runner.workspace().read_log().unwrap();
    assert!(replayed.contains(&IacEvent::CommandStarted {
        command: IacCommand::Destroy
    }));
}

#[tokio::test]
async fn a_failing_apply_surfaces_diagnostics_with_file_and_line_and_keeps_state() {
    let env = env_dirs();
    let backend = Backend::Local {
        state_path: env.state.clone(),
    };
    let (runner, mut rx) = runner_for(&fixtures().join("failing"), &env, backend).await;
    let error = runner.up(&CancelHandle::new()).await.unwrap_err();

    let IacError::CommandFailed {
        command,
        diagnostics,
        exit_code,
        ..
    } = &error
    else {
        panic!("expected CommandFailed, got {error:?}");
    };
    assert_eq!((*command, *exit_code), (IacCommand::Apply, Some(1)));
    let diagnostic = diagnostics.first().expect("a diagnostic");
    assert_eq!(
        diagnostic.location().as_deref(),
        Some("main.tf:8"),
        "{diagnostic}"
    );
    assert!(
        diagnostic.detail.contains("exit status 3"),
        "{diagnostic:?}"
    );
    assert!(error.to_string().contains("main.tf:8"), "{error}");
    assert_eq!(error.exit(), crate::error::Exit::Failure);

    assert!(drain(&mut rx).iter().any(|e| matches!(e,
        IacEvent::ApplyErrored { address, .. } if address == "terraform_data.fails")));
    let resources = state_resources(&read_json(&env.state));
    assert!(
        resources
            .iter()
            .any(|(address, _)| address == "terraform_data.created_first"),
        "{resources:?}"
    );
}

#[tokio::test]
async fn an_init_failure_reports_terraforms_text_error() {
    let env = env_dirs();
    let backend = Backend::Local {
        state_path: env.state.clone(),
    };
    let (runner, _rx) = runner_for(&fixtures().join("invalid-hcl"), &env, backend).await;
    let error = runner.up(&CancelHandle::new()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            IacError::CommandFailed {
                command: IacCommand::Init,
                ..
            }
        ),
        "{error:?}"
    );
    let broken = error
        .diagnostics()
        .iter()
        .find(|d| d.summary == "Missing item separator")
        .expect("parsed from init's text output");
    assert_eq!(broken.location().as_deref(), Some("main.tf:5"));
    assert_eq!(
        broken.detail,
        "Expected a comma to mark the beginning of the next item."
    );
    assert!(error.to_string().contains("(main.tf:5)"), "{error}");
    assert!(!env.state.exists(), "nothing applied");
}

#[tokio::test]
async fn cancelling_a_slow_apply_interrupts_terraform_which_saves_state() {
    let env = env_dirs();
    let backend = Backend::Local {
        state_path: env.state.clone(),
    };
    let (runner, mut rx) = runner_for(&fixtures().join("slow"), &env, backend).await;
    let cancel = CancelHandle::new();
    runner.ensure_init(&cancel).await.unwrap();

    let started = std::time::Instant::now();
    let apply = runner.apply(&cancel);
    let watcher = async {
        while let Some(event) = rx.recv().await {
            if matches!(&event, IacEvent::ApplyStart { address, .. } if address == "terraform_data.slow")
            {
                cancel.cancel();
                break;
            }
        }
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(40), async {
        tokio::join!(apply, watcher)
    })
    .await
    .expect("the cancelled apply ends long before the 60 s sleep");
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            IacError::Cancelled {
                command: IacCommand::Apply,
                forced: false
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.exit(), crate::error::Exit::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(30));

    let resources = state_resources(&read_json(&env.state));
    assert!(
        resources
            .iter()
            .any(|(address, _)| address == "terraform_data.quick"),
        "state written on interrupt: {resources:?}"
    );
    let log = std::fs::read_to_string(env.work.join(LOG_FILE)).unwrap();
    assert!(
        log.contains("Stopping operation..."),
        "Terraform saw the interrupt: {log}"
    );

    // A cancel requested before a command starts stops it from starting.
    let error = runner.destroy(&cancel).await.unwrap_err();
    assert!(matches!(
        error,
        IacError::Cancelled {
            command: IacCommand::Destroy,
            ..
        }
    ));
}

#[tokio::test]
async fn a_second_cancel_kills_the_process() {
    let env = env_dirs();
    let backend = Backend::Local {
        state_path: env.state.clone(),
    };
    let (runner, mut rx) = runner_for(&fixtures().join("slow"), &env, backend).await;
    let cancel = CancelHandle::new();
    runner.ensure_init(&cancel).await.unwrap();
    let apply = runner.apply(&cancel);
    let watcher = async {
        while let Some(event) = rx.recv().await {
            if matches!(&event, IacEvent::ApplyStart { address, .. } if address == "terraform_data.slow")
            {
                cancel.cancel();
                cancel.cancel();
                break;
            }
        }
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(apply, watcher)
    })
    .await
    .expect("killed at once");
    let error = result.unwrap_err();
    assert!(
        matches!(error, IacError::Cancelled { forced: true, .. }),
        "{error:?}"
    );
    assert!(error.hint().is_some());
}

// ---------------------------------------------------------------- http backend

/// Terraform's `http` backend against a small axum server (axum comes with the `server` feature).
#[cfg(feature = "server")]
mod http_backend {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Default)]
    struct StateServer {
        state: Option<Vec<u8>>,
        locked: bool,
        requests: Vec<String>,
        authorized: bool,
    }

    async fn start_state_server() -> (String, Arc<Mutex<StateServer>>) {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Method, StatusCode};
        use axum::response::IntoResponse;

        async fn handle(
            State(shared): State<Arc<Mutex<StateServer>>>,
            method: Method,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::response::Response {
            let mut server = shared.lock().unwrap();
            server.requests.push(method.to_string());
            // Basic auth for "plat:s3cret".
            server.authorized = headers
                .get("authorization")
                .is_some_and(|v| v == "Basic cGxhdDpzM2NyZXQ=");
            if !server.authorized {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            match method.as_str() {
                "GET" => match &server.state {
                    Some(state) => (StatusCode::OK, state.clone()).into_response(),
                    None => StatusCode::NO_CONTENT.into_response(),
                },
                "POST" => {
                    server.state = Some(body.to_vec());
                    StatusCode::OK.into_response()
                }
                "DELETE" => {
                    server.state = None;
                    StatusCode::OK.into_response()
                }
                "LOCK" if server.locked => StatusCode::LOCKED.into_response(),
                "LOCK" => {
                    server.locked = true;
                    StatusCode::OK.into_response()
                }
                "UNLOCK" => {
                    server.locked = false;
                    StatusCode::OK.into_response()
                }
                _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
        }

        let shared = Arc::new(Mutex::new(StateServer::default()));
        let app = axum::Router::new()
            .route("/state/{env}", axum::routing::any(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}/state/pr-42", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (address, shared)
    }

    #[tokio::test]
    async fn http_backend_keeps_state_and_locks_on_the_server() {
        let (address, server) = start_state_server().await;
        let env = env_dirs();
        let backend = Backend::Http(HttpBackend {
            address: address.clone(),
            lock_address: Some(address.clone()),
            unlock_address: Some(address.clone()),
            username: Some("plat".into()),
            password: Some("s3cret".into()),
            ..HttpBackend::default()
        });
        let (runner, _rx) = runner_for(&builtin_templates().join("demo"), &env, backend).await;
        let cancel = CancelHandle::new();

        let (summary, outputs) = runner.up(&cancel).await.unwrap();
        assert_eq!(summary.changes.unwrap().add, 4);
        assert!(
            outputs.reveal("argocd_admin_password").is_some(),
            "read via `output -json`"
        );
        {
            let server = server.lock().unwrap();
            assert!(server.authorized && !server.locked);
            for method in ["GET", "POST", "LOCK", "UNLOCK"] {
                assert!(
                    server.requests.iter().any(|m| m == method),
                    "{method}: {:?}",
                    server.requests
                );
            }
            let state: JsonValue = serde_json::from_slice(server.state.as_ref().unwrap()).unwrap();
            assert_eq!(state_resources(&state).len(), 4);
        }
        assert!(
            !env.work.join("terraform.tfstate").exists(),
            "no local state"
        );
        for entry in walkdir::WalkDir::new(&env.work).into_iter().flatten() {
            if entry.file_type().is_file() {
                let contents = std::fs::read(entry.path()).unwrap();
                let text = String::from_utf8_lossy(&contents);
                assert!(
                    !text.contains("s3cret"),
                    "password written to {}",
                    entry.path().display()
                );
            }
        }

        runner.destroy(&cancel).await.unwrap();
        let server = server.lock().unwrap();
        let state: JsonValue = serde_json::from_slice(server.state.as_ref().unwrap()).unwrap();
        assert!(state_resources(&state).is_empty());
    }
}

/// Issue 14 (lifecycle speed): with the state reached through the work dir's link, `init`'s
/// result is the same for every env of a template version, so the second env starts at `apply`;
/// a changed template is initialised afresh.
#[cfg(unix)]
#[tokio::test]
async fn a_second_env_of_the_same_template_reuses_the_first_init() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("init-cache");
    let template_dir = tmp.path().join("template");
    copy_dir(&builtin_templates().join("demo"), &template_dir);
    let binary = real_binary().await;
    let runner = |name: &str| {
        let template = Template::load(&template_dir).unwrap();
        let params = template.resolve_params(BTreeMap::new(), None).unwrap();
        let work = tmp.path().join(name);
        let workspace = Workspace::create(&work, &template, &plat_vars(), &params).unwrap();
        let state_dir = tmp.path().join(format!("{name}.state"));
        workspace.link_state(&state_dir).unwrap();
        let options = RunOptions {
            base_env: base_env(),
            plugin_cache_dir: None,
            init_cache_dir: Some(cache.clone()),
            events: None,
        };
        let backend = Backend::Linked { state_dir };
        Runner::new(binary.clone(), workspace, backend, options)
    };
    let cancel = CancelHandle::new();
    let first = runner("first");
    assert!(
        first.ensure_init(&cancel).await.unwrap().is_some(),
        "nothing to reuse yet"
    );
    let second = runner("second");
    assert!(
        second.ensure_init(&cancel).await.unwrap().is_none(),
        "the first env's init is reused"
    );
    let (summary, _) = second.up(&cancel).await.unwrap();
    assert_eq!(summary.changes.map(|c| c.add), Some(4));
    let state = read_json(&tmp.path().join("second.state/terraform.tfstate"));
    assert_eq!(
        state_resources(&state).len(),
        4,
        "the state is in the env's own dir"
    );
    assert!(!tmp.path().join("first.state/terraform.tfstate").exists());
    second.down(&cancel).await.unwrap();

    std::fs::write(template_dir.join("extra.tf"), "locals { extra = 1 }\n").unwrap();
    let changed = runner("third");
    assert!(
        changed.ensure_init(&cancel).await.unwrap().is_some(),
        "another template version is initialised afresh"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
