//! Backstage itself as the oracle: templates and expressions rendered by Backstage's own
//! scaffolder code (tests/support/backstage-oracle, pinned in its package-lock.json) and by plat
//! must agree exactly. Skipped only when `node` is not installed. The skip notice and the
//! conformance figures go to stderr (visible with `--nocapture`), hence the allowance below.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/backstage-oracle")
}

/// `None` (with a note on stderr) when node is missing; panics when node is there but the
/// oracle's packages are not installed, so CI cannot skip it by accident.
fn oracle() -> Option<PathBuf> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: node is not installed, so the Backstage oracle cannot run");
        return None;
    }
    let dir = oracle_dir();
    assert!(
        dir.join("node_modules/@backstage/plugin-scaffolder-backend")
            .is_dir(),
        "the Backstage oracle is not installed: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
    Some(dir)
}

/// The user plat runs as in the test harness (`USER=operator`), as `plat scaffold run` gives it
/// to templates: Backstage would give the signed-in user.
const ORACLE_USER: &str =
    r#"{"ref":"user:default/operator","entity":{"metadata":{"name":"operator"}}}"#;

fn run_oracle(dir: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = Command::new("node")
        .arg(dir.join("oracle.cjs"))
        .env("ORACLE_USER", ORACLE_USER)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to the oracle");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("run the oracle");
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "the oracle printed no JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The expressions of tests/fixtures/scaffold/expressions.txt, plus every operator applied to
/// every pair of a set of operands of different JavaScript types.
fn expression_cases() -> Vec<String> {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scaffold/expressions.txt");
    let mut cases: Vec<String> = std::fs::read_to_string(fixture)
        .expect("read expressions.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let operands = [
        "parameters.port",
        "parameters.portText",
        "parameters.missing",
        "parameters.tags",
        "2",
        "\"x\"",
        "true",
        "null",
    ];
    let operators = [
        "+", "-", "*", "/", "%", "~", "==", "===", "!=", "<", ">=", "and", "or",
    ];
    for op in operators {
        for left in operands {
            for right in operands {
                cases.push(format!("${{{{ {left} {op} {right} }}}}"));
            }
        }
    }
    cases
}

#[test]
fn expressions_render_exactly_as_backstage_renders_them() {
    let Some(dir) = oracle() else { return };
    let context: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/scaffold/expressions-context.json"),
        )
        .expect("read the context"),
    )
    .expect("parse the context");
    let cases = expression_cases();
    let input: Vec<Value> = cases
        .iter()
        .map(|template| json!({"template": template, "context": context}))
        .collect();
    let expected = run_oracle(
        &dir,
        &["expressions"],
        Some(&Value::Array(input).to_string()),
    );
    let expected = expected.as_array().expect("an array of results");
    let engine = plat::internals::Engine::new();
    let mut differences = Vec::new();
    for (template, backstage) in cases.iter().zip(expected) {
        let value = engine
            .render_step_value(&json!({"v": template}), &context)
            .and_then(|rendered| rendered.get("v").cloned());
        let text = engine.render_str(template, &context);
        let mut ours = serde_json::Map::new();
        if let Some(value) = value {
            ours.insert("value".into(), value);
        }
        match text {
            Ok(text) => ours.insert("text".into(), Value::String(text)),
            Err(_) => ours.insert("text_error".into(), Value::Bool(true)),
        };
        let mut theirs = backstage.as_object().cloned().unwrap_or_default();
        if theirs.contains_key("text_error") {
            theirs.insert("text_error".into(), Value::Bool(true));
        }
        if Value::Object(ours.clone()) != Value::Object(theirs.clone()) {
            differences.push(format!(
                "  {template}\n    backstage: {}\n    plat:      {}",
                Value::Object(theirs),
                Value::Object(ours)
            ));
        }
    }
    eprintln!(
        "expressions: {} of {} render as Backstage renders them",
        cases.len() - differences.len(),
        cases.len()
    );
    assert!(
        differences.is_empty(),
        "{} expressions render differently:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// Every file under `dir` with its bytes, relative paths sorted (`.plat-answers.yml` left out:
/// Backstage has no answers file).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry
                .path()
                .strip_prefix(dir)
                .expect("below the directory")
                .to_string_lossy()
                .into_owned();
            (
                relative,
                std::fs::read(entry.path()).expect("read a rendered file"),
            )
        })
        .filter(|(path, _)| path != ".plat-answers.yml")
        .collect()
}

fn describe_difference(
    backstage: &std::collections::BTreeMap<String, Vec<u8>>,
    plat: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, theirs) in backstage {
        match plat.get(path) {
            None => problems.push(format!("only Backstage wrote {path}")),
            Some(ours) if ours != theirs => problems.push(format!(
                "{path} differs\n--- backstage\n{}\n--- plat\n{}",
                String::from_utf8_lossy(theirs),
                String::from_utf8_lossy(ours)
            )),
            Some(_) => {}
        }
    }
    for path in plat.keys().filter(|path| !backstage.contains_key(*path)) {
        problems.push(format!("only plat wrote {path}"));
    }
    problems
}

/// Every template of tests/fixtures/scaffold/corpus renders to the same files and the same
/// `output` as Backstage's own dry run of it (publish and register steps given example outputs).
#[test]
fn corpus_templates_render_exactly_as_backstage_renders_them() {
    let Some(dir) = oracle() else { return };
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scaffold/corpus");
    let mut templates: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("read the corpus")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("template.yaml").is_file())
        .collect();
    templates.sort();
    assert!(templates.len() >= 5, "the corpus lost its templates");
    let env = crate::support::TestEnv::new();
    let mut failures = Vec::new();
    for template in &templates {
        let name = template
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let values = template.join("values.json");
        let backstage_out = env.root().join(format!("backstage-{name}"));
        let plat_out = env.root().join(format!("plat-{name}"));
        std::fs::create_dir_all(&backstage_out).expect("create the oracle's output");
        let backstage = run_oracle(
            &dir,
            &[
                "render",
                &template.to_string_lossy(),
                &values.to_string_lossy(),
                &backstage_out.to_string_lossy(),
            ],
            None,
        );
        let plat = env.run(&[
            "-o",
            "json",
            "scaffold",
            "run",
            &template.to_string_lossy(),
            &plat_out.to_string_lossy(),
            "--no-git",
            "--values",
            &values.to_string_lossy(),
        ]);
        if let Some(error) = backstage.get("error") {
            if plat.code == 0 {
                failures.push(format!(
                    "{name}: Backstage failed ({error}) but plat succeeded"
                ));
            }
            continue;
        }
        if plat.code != 0 {
            failures.push(format!("{name}: plat failed:\n{}", plat.transcript()));
            continue;
        }
        let problems = describe_difference(&files(&backstage_out), &files(&plat_out));
        if !problems.is_empty() {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
        let ours = plat.json().get("output").cloned().unwrap_or(Value::Null);
        let theirs = backstage.get("output").cloned().unwrap_or(Value::Null);
        if ours != theirs {
            failures.push(format!(
                "{name}: output differs\n  backstage: {theirs}\n  plat:      {ours}"
            ));
        }
    }
    eprintln!(
        "corpus: {} of {} templates render as Backstage renders them",
        templates.len() - failures.len(),
        templates.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Corpus templates that need another engine fail in both Backstage and plat; plat's message
/// names the step and the action, says why, and nothing is written.
#[test]
fn templates_needing_other_engines_fail_naming_the_action_and_write_nothing() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scaffold/corpus");
    let env = crate::support::TestEnv::new();
    for (name, step, action, why) in [
        (
            "rails-engine",
            "fetch-base (Fetch Base)",
            "fetch:rails",
            "rails new",
        ),
        (
            "docs-cookiecutter",
            "fetch (Cookiecutter)",
            "fetch:cookiecutter",
            "cookiecutterCompat",
        ),
    ] {
        let template = corpus.join(name);
        let target = env.root().join(name);
        let out = env.run(&[
            "scaffold",
            "run",
            &template.to_string_lossy(),
            &target.to_string_lossy(),
            "--no-git",
            "--values",
            &template.join("values.json").to_string_lossy(),
        ]);
        out.failure(1);
        assert!(
            out.stderr
                .contains(&format!("step `{step}` uses unknown action `{action}`")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(why), "{}", out.stderr);
        assert!(!target.exists(), "{name}: nothing written");
    }
}
