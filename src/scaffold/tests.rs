use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::template::parse_template;
use super::update::FileChangeKind;
use super::*;
use crate::expr::Engine;

mod http;
mod publish_tests;
mod update_tests;

/// The repository root: `file!()` is relative to it in the main crate, absolute in a scratch crate.
fn repo_root() -> PathBuf {
    let here = Path::new(file!());
    let root = here.ancestors().nth(3).unwrap_or(Path::new(""));
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.to_path_buf()
    }
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/scaffold").join(name)
}

fn locator() -> Locator {
    Locator {
        builtin_dir: Some(repo_root().join("templates/scaffold")),
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|err| panic!("read {}: {err}", path.as_ref().display()))
}

/// Writes `files` (path, contents) under a new temp dir and loads it as a template.
fn template_from(files: &[(&str, &str)]) -> (tempfile::TempDir, LoadedTemplate) {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    let loaded = locator().load(dir.path().to_str().unwrap()).unwrap();
    (dir, loaded)
}

fn template_yaml(steps: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  \
         parameters:\n    properties:\n      name:\n        type: string\n        default: demo\n  \
         steps:\n{steps}"
    )
}

fn resolved(template: &LoadedTemplate, sets: &[&str]) -> Map<String, Value> {
    let mut input = ParameterInput::default();
    for set in sets {
        input.add_set(set).unwrap();
    }
    resolve_parameters(template, &input, None).unwrap()
}

#[tokio::test]
async fn full_template_runs_every_action_and_renders_each_file() {
    let template = locator().load(fixture("full").to_str().unwrap()).unwrap();
    let values = resolved(&template, &["name=orders"]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("orders");
    let result = run(
        &Engine::new(),
        &template,
        &target,
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();

    assert_eq!(
        result.files,
        [
            ".github/workflows/orders.yml",
            ".plat-answers.yml",
            "LICENSE",
            "README.md",
            "bin/run.sh",
            "catalog-info.yaml",
            "cookie/orders.txt",
            "current",
            "docs/notes.md",
            "logo.png",
            "modules/alpha.txt",
            "modules/beta.txt",
            "njk/config.yaml",
            "njk/static.txt",
            "orders/lib.txt",
            "plain/${{ values.name }}.txt",
            "plain/sub/n.txt",
            "raw/keep.txt",
        ]
    );
    assert_eq!(read(target.join("README.md")), "# orders\n\nReplicas: 2\n");
    assert_eq!(read(target.join("orders/lib.txt")), "library of orders\n");
    // copyWithoutTemplating: name rendered, contents raw.
    assert!(read(target.join(".github/workflows/orders.yml")).contains("${{ github.sha }}"));
    // copyWithoutRender: ignored, as Backstage's fetch:template ignores it (it renders both).
    assert_eq!(read(target.join("raw/keep.txt")), "kept as is: orders\n");
    assert!(
        !target.join("extra.txt").exists(),
        "conditional file rendered empty name"
    );
    assert!(!target.join("junk.remove-me").exists(), "fs:delete");
    assert!(!target.join("README.tmp").exists(), "fs:rename");
    assert_eq!(read(target.join("njk/config.yaml")), "name: orders\n");
    assert_eq!(
        read(target.join("njk/static.txt")),
        "static ${{ values.name }}\n"
    );
    assert_eq!(
        read(target.join("cookie/orders.txt")),
        "orders [\"a\",\"b\"] ${HOME}\n"
    );
    assert_eq!(
        read(target.join("plain/${{ values.name }}.txt")),
        "plain ${{ values.name }}\n"
    );
    assert_eq!(
        read(target.join("LICENSE")),
        "MIT License for ${{ values.name }}\n"
    );
    assert_eq!(read(target.join("docs/notes.md")), "Notes for orders\n");
    assert_eq!(read(target.join("modules/alpha.txt")), "module alpha #0\n");
    assert_eq!(read(target.join("modules/beta.txt")), "module beta #1\n");
    let binary = std::fs::read(target.join("logo.png")).unwrap();
    assert_eq!(
        binary,
        std::fs::read(fixture("full/skeleton/logo.png")).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(target.join("bin/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept");
        assert_eq!(
            std::fs::read_link(target.join("current")).unwrap(),
            Path::new("bin")
        );
    }
    assert_eq!(
        read(target.join("bin/run.sh")),
        "#!/bin/sh\necho \"orders\"\n"
    );

    let catalog: Value = serde_yaml_ng::from_str(&read(target.join("catalog-info.yaml"))).unwrap();
    assert_eq!(catalog["metadata"]["name"], "orders");
    assert_eq!(
        catalog["spec"]["replicas"], 2,
        "single expressions keep their type"
    );

    let log_step = result.steps.iter().find(|s| s.id == "log").unwrap();
    assert_eq!(log_step.log, ["Rendering orders with 2 replicas"]);
    let never = result.steps.iter().find(|s| s.id == "never").unwrap();
    assert_eq!(never.status, StepStatus::Skipped);
    let modules = result.steps.iter().find(|s| s.id == "modules").unwrap();
    assert_eq!(
        modules.output,
        json!({}),
        "`each` outputs are one array per output name (none here)"
    );

    assert_eq!(
        result.output.links().len(),
        1,
        "link with a false `if` dropped"
    );
    assert_eq!(
        result.output.links()[0]["url"],
        "https://backstage.example.com/catalog/default/component/orders"
    );
    assert_eq!(result.output.text()[0]["content"], "orders has 2 modules");

    let answers = Answers::read(&target).unwrap();
    assert_eq!(answers.template, "full");
    assert_eq!(answers.values["name"], "orders");
    assert_eq!(answers.values["replicas"], 2);

    let json = serde_json::to_value(&result).unwrap();
    for key in ["target", "files", "steps", "output"] {
        assert!(json.get(key).is_some(), "result has {key}");
    }
    assert_eq!(json["steps"][0]["id"], "fetch");
    let leftovers: Vec<_> = std::fs::read_dir(out.path()).unwrap().flatten().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no work directory left beside the target"
    );
}

#[tokio::test]
async fn conditional_file_appears_when_its_name_renders() {
    let template = locator().load(fixture("full").to_str().unwrap()).unwrap();
    let values = resolved(&template, &["name=orders", "withExtra=true"]);
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(read(out.path().join("extra.txt")), "extra for orders\n");
    assert_eq!(result.output.links().len(), 2);
}

#[tokio::test]
async fn dry_run_lists_files_and_writes_nothing() {
    let template = locator().load(fixture("full").to_str().unwrap()).unwrap();
    let values = resolved(&template, &["name=orders"]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("orders");
    let options = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let result = run(&Engine::new(), &template, &target, &values, &options)
        .await
        .unwrap();
    assert!(result.dry_run);
    assert!(result.files.contains(&"README.md".to_owned()));
    assert_eq!(result.files.len(), 18);
    assert!(!target.exists());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn builtin_rust_service_renders() {
    assert_eq!(locator().builtin_names(), ["docs-site", "rust-service"]);
    let template = locator().load("rust-service").unwrap();
    assert_eq!(template.origin.source, "builtin:rust-service");
    let values = resolved(
        &template,
        &["name=billing-api", "owner=group:default/pay", "port=9000"],
    );
    assert_eq!(
        values["port"], 9000,
        "--set coerced to the schema's integer"
    );
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        result.files,
        [
            ".github/workflows/ci.yml",
            ".gitignore",
            ".plat-answers.yml",
            "Cargo.toml",
            "Dockerfile",
            "README.md",
            "catalog-info.yaml",
            "src/main.rs",
        ]
    );
    assert!(read(out.path().join("Cargo.toml")).contains("name = \"billing-api\""));
    assert!(read(out.path().join("src/main.rs")).contains("\"0.0.0.0:9000\""));
    assert!(read(out.path().join(".github/workflows/ci.yml")).contains("${{ github.sha }}"));
    let catalog: Value =
        serde_yaml_ng::from_str(&read(out.path().join("catalog-info.yaml"))).unwrap();
    assert_eq!(catalog["spec"]["owner"], "group:default/pay");
    assert_eq!(
        result.steps[1].status,
        StepStatus::Skipped,
        "no repoUrl, no publish"
    );
    assert!(result.output.links().is_empty());
    assert!(
        result.output.text()[0]["content"]
            .as_str()
            .unwrap()
            .contains("port 9000")
    );

    let without_docker = resolved(&template, &["name=x", "owner=o", "withDocker=false"]);
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &without_docker,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert!(!result.files.contains(&"Dockerfile".to_owned()));
    assert!(!read(out.path().join("README.md")).contains("docker build"));
}

#[tokio::test]
async fn builtin_docs_site_renders_a_page_per_section() {
    let template = locator().load("builtin:docs-site").unwrap();
    let values = resolved(
        &template,
        &[
            "name=handbook",
            "owner=group:default/docs",
            "sections=setup,faq-and-tips",
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        result.files,
        [
            ".plat-answers.yml",
            "catalog-info.yaml",
            "docs/faq-and-tips.md",
            "docs/index.md",
            "docs/setup.md",
            "mkdocs.yml",
        ]
    );
    assert_eq!(
        read(out.path().join("mkdocs.yml")),
        "site_name: Documentation\nnav:\n  - Home: index.md\n  - Setup: setup.md\n  - Faq And Tips: faq-and-tips.md\nplugins:\n  - techdocs-core\n"
    );
    assert!(read(out.path().join("docs/faq-and-tips.md")).starts_with("# Faq And Tips\n"));
}

fn bare_repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init_bare(dir.path()).unwrap();
    let url = format!("file://{}", dir.path().display());
    (dir, url)
}

#[tokio::test]
async fn publish_git_pushes_to_a_bare_repository_with_the_configured_author() {
    let (bare, url) = bare_repo();
    let steps = format!(
        "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{{{ parameters.name }}}}\n    - id: publish\n      action: publish:git\n      input:\n        repoUrl: {url}\n        defaultBranch: trunk\n        gitCommitMessage: scaffolded ${{{{ parameters.name }}}}\n"
    );
    let (_dir, template) = template_from(&[
        ("template.yaml", &template_yaml(&steps)),
        ("skeleton/hello.txt", "hello ${{ values.name }}\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        author: GitAuthor {
            name: "Ana Lima".into(),
            email: "ana@example.com".into(),
        },
        ..RunOptions::default()
    };
    let values = resolved(&template, &[]);
    let result = run(&Engine::new(), &template, out.path(), &values, &options)
        .await
        .unwrap();
    let commit_hash = result.steps[1].output["commitHash"]
        .as_str()
        .unwrap()
        .to_owned();

    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    let commit = repo
        .find_reference("refs/heads/trunk")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(commit.id().to_string(), commit_hash);
    assert_eq!(commit.author().name().ok(), Some("Ana Lima"));
    assert_eq!(commit.author().email().ok(), Some("ana@example.com"));
    assert_eq!(commit.message().ok(), Some("scaffolded demo"));
    let tree = commit.tree().unwrap();
    let blob = tree
        .get_path(Path::new("hello.txt"))
        .unwrap()
        .to_object(&repo)
        .unwrap();
    assert_eq!(blob.as_blob().unwrap().content(), b"hello demo\n");
    assert!(
        tree.get_path(Path::new(ANSWERS_FILE)).is_ok(),
        "answers are committed"
    );
    // The project itself is the pushed repository.
    assert!(out.path().join(".git").is_dir());
    assert!(!result.files.iter().any(|f| f.starts_with(".git/")));
}

#[tokio::test]
async fn no_git_skips_publishing_and_dry_run_describes_it() {
    let (bare, url) = bare_repo();
    let steps = format!(
        "    - id: publish\n      action: publish:git\n      input:\n        repoUrl: {url}\n"
    );
    let (_dir, template) = template_from(&[("template.yaml", &template_yaml(&steps))]);
    let values = resolved(&template, &[]);
    let out = tempfile::tempdir().unwrap();
    let skipped = RunOptions {
        skip_publish: true,
        ..RunOptions::default()
    };
    let result = run(&Engine::new(), &template, out.path(), &values, &skipped)
        .await
        .unwrap();
    assert_eq!(result.steps[0].status, StepStatus::Skipped);
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let target = out.path().join("dry");
    let result = run(&Engine::new(), &template, &target, &values, &dry)
        .await
        .unwrap();
    assert_eq!(result.steps[0].status, StepStatus::Simulated);
    assert!(result.steps[0].log[0].contains(&url));
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    assert!(
        repo.references().unwrap().next().is_none(),
        "nothing pushed"
    );
    assert!(!out.path().join(".git").exists());
}

#[tokio::test]
async fn unknown_action_is_refused_before_anything_is_written() {
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: weird\n      action: github:actions:dispatch\n      input: {}\n";
    let (_dir, template) = template_from(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/a.txt", "a"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("t");
    let err = run(
        &Engine::new(),
        &template,
        &target,
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ScaffoldError::UnknownAction { step, action } if step == "weird" && action == "github:actions:dispatch"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("fetch:template"));
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn template_yaml_errors_report_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: x\nspec:\n  steps:\n    - id: a\n      action: [unclosed\n",
    )
    .unwrap();
    let err = locator().load(dir.path().to_str().unwrap()).unwrap_err();
    let message = err.to_string();
    let expected = format!("{}:", dir.path().join("template.yaml").display());
    assert!(message.starts_with(&expected), "{message}");
    let ScaffoldError::TemplateYaml { line, column, .. } = err else {
        panic!("unexpected {err:?}");
    };
    assert!(line.is_some_and(|l| l >= 8), "{line:?}");
    assert!(column.is_some());

    let wrong_kind = parse_template(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nspec: {}\n",
        Path::new("t.yaml"),
    )
    .unwrap_err();
    assert!(
        wrong_kind
            .to_string()
            .contains("scaffolder.backstage.io/v1beta3")
    );
}

#[tokio::test]
async fn expression_errors_name_the_file_and_the_expression() {
    let steps =
        "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n";
    let (_dir, template) = template_from(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/ok.txt", "fine"),
        ("skeleton/broken.txt", "line one\n${{ values.name | }}\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("t");
    let err = run(
        &Engine::new(),
        &template,
        &target,
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("broken.txt:2"), "{message}");
    assert!(message.contains("values.name |"), "{message}");
    assert!(!target.exists(), "failure leaves no target");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "no work dir left"
    );

    let steps = "    - id: log\n      action: debug:log\n      input:\n        message: ${{ parameters.name | parseRepoUrl }}\n";
    let (_dir, template) = template_from(&[("template.yaml", &template_yaml(steps))]);
    // In step values Backstage keeps a string whose rendering fails as written.
    let result = run(
        &Engine::new(),
        &template,
        &out.path().join("u"),
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        result.steps[0].log,
        ["${{ parameters.name | parseRepoUrl }}"]
    );
}

async fn run_expecting_escape(files: &[(&str, &str)]) -> String {
    let (_dir, template) = template_from(files);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("project");
    let err = run(
        &Engine::new(),
        &template,
        &target,
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    let escaped = match &err {
        ScaffoldError::PathEscape { path } => path.clone(),
        ScaffoldError::Step { source, .. } => match source.as_ref() {
            ScaffoldError::PathEscape { path } => path.clone(),
            other => panic!("expected a path escape, got {other}"),
        },
        other => panic!("expected a path escape, got {other}"),
    };
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing written: {escaped}"
    );
    escaped
}

#[tokio::test]
async fn paths_escaping_the_target_are_refused() {
    let fetch_to = |target: &str| {
        template_yaml(&format!(
            "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        targetPath: {target}\n"
        ))
    };
    let escaped = run_expecting_escape(&[
        ("template.yaml", &fetch_to("../outside")),
        ("skeleton/a.txt", "a"),
    ])
    .await;
    assert_eq!(escaped, "../outside");
    run_expecting_escape(&[
        ("template.yaml", &fetch_to("/tmp/abs")),
        ("skeleton/a.txt", "a"),
    ])
    .await;

    // A file name that renders to `..`.
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          up: '..'\n";
    let escaped = run_expecting_escape(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/${{ values.up }}/evil.txt", "x"),
    ])
    .await;
    assert!(escaped.contains(".."), "{escaped}");

    let steps = "    - id: write\n      action: catalog:write\n      input:\n        filePath: ../../catalog-info.yaml\n        entity: {kind: Component}\n";
    run_expecting_escape(&[("template.yaml", &template_yaml(steps))]).await;

    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: mv\n      action: fs:rename\n      input:\n        files:\n          - from: a.txt\n            to: ../a.txt\n";
    run_expecting_escape(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/a.txt", "a"),
    ])
    .await;

    let steps = "    - id: rm\n      action: fs:delete\n      input:\n        files: ['../*']\n";
    run_expecting_escape(&[("template.yaml", &template_yaml(steps))]).await;
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_pointing_outside_are_refused() {
    let steps =
        "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n";
    let (dir, _) = template_from(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/a.txt", "a"),
    ]);
    std::os::unix::fs::symlink("../../../etc/passwd", dir.path().join("skeleton/passwd")).unwrap();
    let template = locator().load(dir.path().to_str().unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = run(
        &Engine::new(),
        &template,
        &out.path().join("p"),
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("passwd"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // A target directory that is itself a symlink out of the workspace is refused too.
    std::fs::remove_file(dir.path().join("skeleton/passwd")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("skeleton/link")).unwrap();
    std::fs::create_dir_all(dir.path().join("skeleton2")).unwrap();
    std::fs::write(dir.path().join("skeleton2/x.txt"), "x").unwrap();
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: into-link\n      action: fetch:template\n      input:\n        url: ./skeleton2\n        targetPath: link\n";
    std::fs::write(dir.path().join("template.yaml"), template_yaml(steps)).unwrap();
    let template = locator().load(dir.path().to_str().unwrap()).unwrap();
    let err = run(
        &Engine::new(),
        &template,
        &out.path().join("q"),
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

#[tokio::test]
async fn non_empty_target_is_refused_unless_forced() {
    let steps =
        "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n";
    let (_dir, template) = template_from(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/a.txt", "new ${{ values.x }}"),
        ("skeleton/sub/b.txt", "b"),
    ]);
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("mine.txt"), "keep").unwrap();
    std::fs::write(target.path().join("a.txt"), "old").unwrap();
    let values = resolved(&template, &[]);
    let err = run(
        &Engine::new(),
        &template,
        target.path(),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScaffoldError::TargetNotEmpty { .. }));
    assert!(err.hint().unwrap().contains("--force"));
    assert_eq!(read(target.path().join("a.txt")), "old");

    let forced = RunOptions {
        force: true,
        ..RunOptions::default()
    };
    run(&Engine::new(), &template, target.path(), &values, &forced)
        .await
        .unwrap();
    assert_eq!(read(target.path().join("a.txt")), "new ");
    assert_eq!(read(target.path().join("mine.txt")), "keep");
    assert_eq!(read(target.path().join("sub/b.txt")), "b");
}

#[tokio::test]
async fn failure_midway_leaves_an_existing_target_untouched() {
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: bad\n      action: fs:rename\n      input:\n        files:\n          - from: missing.txt\n            to: b.txt\n";
    let (_dir, template) = template_from(&[
        ("template.yaml", &template_yaml(steps)),
        ("skeleton/a.txt", "a"),
    ]);
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("existing");
    std::fs::create_dir(&target).unwrap();
    let err = run(
        &Engine::new(),
        &template,
        &target,
        &resolved(&template, &[]),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ScaffoldError::Step { step, .. } if step == "bad"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        0,
        "target still empty"
    );
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        1,
        "work dir removed"
    );
}

#[tokio::test]
async fn hooks_need_trust() {
    let yaml = format!(
        "{}  hooks:\n    - run: echo ${{{{ parameters.name }}}} > hook.txt\n",
        template_yaml("    - id: log\n      action: debug:log\n      input: {message: hi}\n")
    );
    let (_dir, template) = template_from(&[("template.yaml", &yaml)]);
    let values = resolved(&template, &[]);
    let out = tempfile::tempdir().unwrap();
    let err = run(
        &Engine::new(),
        &template,
        &out.path().join("a"),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ScaffoldError::HooksNotTrusted { commands } if commands[0].contains("hook.txt"))
    );
    assert!(!out.path().join("a").exists());
    let trusted = RunOptions {
        trust: true,
        ..RunOptions::default()
    };
    let result = run(
        &Engine::new(),
        &template,
        &out.path().join("b"),
        &values,
        &trusted,
    )
    .await
    .unwrap();
    assert_eq!(read(out.path().join("b/hook.txt")), "demo\n");
    assert!(result.files.contains(&"hook.txt".to_owned()));
}

#[test]
fn git_url_templates_are_cloned_at_a_ref() {
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(repo_dir.path()).unwrap();
    let commit_file = |text: &str, message: &str| {
        std::fs::create_dir_all(repo_dir.path().join("tpl")).unwrap();
        std::fs::write(repo_dir.path().join("tpl/template.yaml"), text).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = git2::Signature::now("t", "t@example.com").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .unwrap()
    };
    let first = commit_file(
        &template_yaml("    []\n").replace("name: t", "name: first"),
        "v1",
    );
    repo.tag_lightweight("v1", &repo.find_object(first, None).unwrap(), false)
        .unwrap();
    commit_file(
        &template_yaml("    []\n").replace("name: t", "name: second"),
        "v2",
    );

    let url = format!("file://{}", repo_dir.path().display());
    let latest = locator().load(&format!("{url}#:tpl")).unwrap();
    assert_eq!(latest.name(), "second");
    let pinned = locator().load(&format!("{url}#v1:tpl")).unwrap();
    assert_eq!(pinned.name(), "first");
    assert_eq!(
        pinned.origin.commit.as_deref(),
        Some(first.to_string().as_str())
    );
    assert_eq!(pinned.origin.git_ref.as_deref(), Some("v1"));
    assert_eq!(pinned.origin.subdir.as_deref(), Some("tpl"));
    let err = locator().load(&format!("{url}#nope")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn a_template_file_path_loads_too() {
    let file = fixture("full/template.yaml");
    let template = locator().load(file.to_str().unwrap()).unwrap();
    assert_eq!(template.name(), "full");
    assert!(template.dir.ends_with("full"));
    assert_eq!(template.template.spec.parameters.len(), 2);
    assert_eq!(template.template.spec.steps.len(), 12);
}

#[test]
fn unknown_template_lists_builtins() {
    let err = locator().load("does-not-exist").unwrap_err();
    assert!(matches!(err, ScaffoldError::TemplateNotFound { .. }));
    assert!(err.hint().unwrap().contains("rust-service"));
}

mod parameters {
    use super::*;

    fn pages() -> Vec<Value> {
        vec![
            json!({
                "title": "One",
                "required": ["name", "kind"],
                "properties": {
                    "name": {"type": "string", "title": "Name", "pattern": "^[a-z]+$"},
                    "kind": {"type": "string", "enum": ["service", "library"]},
                    "replicas": {"type": "integer", "default": 1, "minimum": 1},
                    "public": {"type": "boolean", "default": false},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "dependencies": {
                    "kind": {
                        "oneOf": [
                            {"properties": {"kind": {"enum": ["service"]}, "port": {"type": "integer", "default": 8080}}},
                            {"properties": {"kind": {"enum": ["library"]}, "registry": {"type": "string"}}, "required": ["registry"]}
                        ]
                    }
                }
            }),
            json!({"title": "Two", "required": ["owner"], "properties": {"owner": {"type": "string"}}}),
        ]
    }

    fn input(sets: &[&str]) -> ParameterInput {
        let mut input = ParameterInput::default();
        for set in sets {
            input.add_set(set).unwrap();
        }
        input
    }

    #[test]
    fn sets_are_coerced_and_defaults_applied() {
        let values = params::resolve(
            &pages(),
            &input(&[
                "name=orders",
                "kind=service",
                "replicas=3",
                "public=yes",
                "tags=a,b",
                "owner=me",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(values["replicas"], 3);
        assert_eq!(values["public"], true);
        assert_eq!(values["tags"], json!(["a", "b"]));
        assert_eq!(
            values["port"], 8080,
            "default from the active dependency branch"
        );
        assert!(!values.contains_key("registry"));
    }

    #[test]
    fn every_missing_required_parameter_is_listed_once() {
        let err = params::resolve(&pages(), &input(&["kind=library"]), None).unwrap_err();
        let ScaffoldError::MissingParameters { names } = &err else {
            panic!("{err}");
        };
        assert_eq!(names, &["name", "registry", "owner"]);
        assert!(err.hint().unwrap().contains("--set name=…"));
    }

    #[test]
    fn schema_violations_are_reported_together() {
        let err = params::resolve(
            &pages(),
            &input(&["name=Bad Name", "kind=daemon", "replicas=0", "owner=x"]),
            None,
        )
        .unwrap_err();
        let ScaffoldError::InvalidParameters { problems } = &err else {
            panic!("{err}");
        };
        assert!(
            problems.iter().any(|p| p.starts_with("name:")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("kind:")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("replicas:")),
            "{problems:?}"
        );
        let err = params::resolve(&pages(), &input(&["replicas=many"]), None).unwrap_err();
        assert!(err.to_string().contains("not an integer"), "{err}");
        assert!(matches!(
            ParameterInput::default().add_set("novalue"),
            Err(ScaffoldError::InvalidSet { .. })
        ));
    }

    #[test]
    fn values_files_merge_under_sets() {
        let mut given = input(&["owner=cli"]);
        given
            .add_values_yaml(
                "name: fromfile\nkind: service\nowner: file\n",
                "values.yaml",
            )
            .unwrap();
        let values = params::resolve(&pages(), &given, None).unwrap();
        assert_eq!(values["name"], "fromfile");
        assert_eq!(values["owner"], "cli", "--set wins over --values");
        let err = given.add_values_yaml("- a list", "bad.yaml").unwrap_err();
        assert!(err.to_string().starts_with("bad.yaml:"));
    }

    #[test]
    fn values_files_are_coerced_against_the_schema_like_sets() {
        let mut given = input(&["owner=me"]);
        given
            .add_values_yaml(
                "name: orders\nkind: service\nreplicas: \"3\"\npublic: \"yes\"\ntags: a,b\n",
                "values.yaml",
            )
            .unwrap();
        let values = params::resolve(&pages(), &given, None).unwrap();
        assert_eq!(values["replicas"], 3);
        assert_eq!(values["public"], true);
        assert_eq!(values["tags"], json!(["a", "b"]));
    }

    fn conditional_pages() -> Vec<Value> {
        vec![json!({
            "title": "Hosting",
            "required": ["hosting"],
            "properties": {
                "hosting": {"type": "string", "enum": ["cloud", "onprem"]},
                "withDb": {"type": "boolean", "default": false}
            },
            "allOf": [
                {
                    "if": {"properties": {"hosting": {"const": "cloud"}}},
                    "then": {"properties": {"region": {"type": "string"}}, "required": ["region"]},
                    "else": {"properties": {"datacenter": {"type": "string"}}, "required": ["datacenter"]}
                }
            ],
            "if": {"properties": {"withDb": {"const": true}}, "required": ["withDb"]},
            "then": {"properties": {"dbSize": {"type": "integer"}}, "required": ["dbSize"]}
        })]
    }

    #[test]
    fn only_fields_the_form_shows_are_required_all_of_if_then_and_page_conditions() {
        let values = params::resolve(
            &conditional_pages(),
            &input(&["hosting=cloud", "region=eu"]),
            None,
        )
        .unwrap();
        assert_eq!(values["region"], "eu");
        let err =
            params::resolve(&conditional_pages(), &input(&["hosting=onprem"]), None).unwrap_err();
        let ScaffoldError::MissingParameters { names } = &err else {
            panic!("{err}");
        };
        assert_eq!(names, &["datacenter"], "region is hidden on-prem");
        let err = params::resolve(
            &conditional_pages(),
            &input(&["hosting=cloud", "region=eu", "withDb=true"]),
            None,
        )
        .unwrap_err();
        let ScaffoldError::MissingParameters { names } = &err else {
            panic!("{err}");
        };
        assert_eq!(names, &["dbSize"]);
    }

    struct Scripted {
        answers: Vec<&'static str>,
        asked: Vec<String>,
    }

    impl Prompter for Scripted {
        fn input(&mut self, question: &Question) -> Result<String, PromptError> {
            self.asked.push(format!("input:{}", question.title));
            Ok(self.answers.remove(0).to_owned())
        }
        fn select(
            &mut self,
            question: &Question,
            choices: &[String],
        ) -> Result<usize, PromptError> {
            self.asked
                .push(format!("select:{}:{}", question.name, choices.join("|")));
            Ok(1)
        }
        fn confirm(&mut self, question: &Question) -> Result<bool, PromptError> {
            self.asked.push(format!("confirm:{}", question.name));
            Ok(true)
        }
    }

    #[test]
    fn prompter_is_asked_with_titles_enums_and_defaults() {
        let mut prompter = Scripted {
            answers: vec!["orders", "", "npm", "team"],
            asked: Vec::new(),
        };
        let values =
            params::resolve(&pages(), &ParameterInput::default(), Some(&mut prompter)).unwrap();
        assert_eq!(values["name"], "orders");
        assert_eq!(values["kind"], "library", "select returned index 1");
        assert_eq!(values["replicas"], 1, "empty answer takes the default");
        assert_eq!(values["public"], true);
        assert_eq!(values["registry"], "npm");
        assert_eq!(values["owner"], "team");
        assert!(
            prompter
                .asked
                .contains(&"select:kind:service|library".to_owned())
        );
        assert!(prompter.asked.contains(&"input:Name".to_owned()));
    }

    struct Cancelling;
    impl Prompter for Cancelling {
        fn input(&mut self, _: &Question) -> Result<String, PromptError> {
            Err(PromptError::Cancelled)
        }
        fn select(&mut self, _: &Question, _: &[String]) -> Result<usize, PromptError> {
            Err(PromptError::Cancelled)
        }
        fn confirm(&mut self, _: &Question) -> Result<bool, PromptError> {
            Err(PromptError::Cancelled)
        }
    }

    #[test]
    fn cancelled_prompt_exits_130() {
        let err = params::resolve(&pages(), &ParameterInput::default(), Some(&mut Cancelling))
            .unwrap_err();
        assert!(matches!(err, ScaffoldError::Cancelled));
        assert_eq!(err.exit(), crate::error::Exit::Cancelled);
    }

    #[test]
    fn secret_parameters_are_not_recorded() {
        let pages = vec![
            json!({"properties": {"token": {"type": "string", "ui:widget": "password"}, "name": {"type": "string"}}}),
        ];
        assert_eq!(params::secret_parameters(&pages), ["token"]);
    }
}

/// Written the way backstage/software-templates writes templates: RepoUrlPicker values,
/// `!==`, the scaffolder filters, `each` over an object, and `user`.
#[tokio::test]
async fn backstage_style_expressions_work_in_steps() {
    let yaml = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: backstage-style
spec:
  parameters:
    - title: Repository
      required: [repoUrl, owner]
      properties:
        repoUrl:
          type: string
          ui:field: RepoUrlPicker
          ui:options:
            allowedHosts: [github.com]
        owner:
          type: string
          ui:field: OwnerPicker
        dryRun:
          type: boolean
          default: false
  steps:
    - id: files
      each:
        readme: README.md
        owners: CODEOWNERS
      if: ${{ parameters.dryRun !== true }}
      action: fetch:template:file
      input:
        url: ./one.txt
        targetPath: ${{ each.value }}
        values:
          label: ${{ each.key }}
          slug: ${{ parameters.repoUrl | projectSlug }}
          host: ${{ (parameters.repoUrl | parseRepoUrl).host }}
          owner: '${{ parameters.owner | parseEntityRef({ defaultKind: "group" }) }}'
          by: ${{ user.ref }}
"#;
    let (_dir, template) = template_from(&[
        ("template.yaml", yaml),
        (
            "one.txt",
            "${{ values.label }} ${{ values.slug }} on ${{ values.host }} for ${{ values.owner.kind }}:${{ values.owner.name }} by ${{ values.by }}\n",
        ),
    ]);
    let values = resolved(
        &template,
        &["repoUrl=github.com?owner=acme&repo=shop", "owner=payments"],
    );
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        user: Some(UserInfo {
            entity_ref: "user:default/ana".into(),
            entity: json!({}),
        }),
        ..RunOptions::default()
    };
    let result = run(&Engine::new(), &template, out.path(), &values, &options)
        .await
        .unwrap();
    assert_eq!(
        read(out.path().join("README.md")),
        "readme acme/shop on github.com for group:payments by user:default/ana\n"
    );
    assert_eq!(
        read(out.path().join("CODEOWNERS")).split(' ').next(),
        Some("owners")
    );
    assert!(
        result.steps[0].output.is_object(),
        "`each` outputs are one array per output name"
    );

    let dry = resolved(
        &template,
        &[
            "repoUrl=github.com?owner=acme&repo=shop",
            "owner=payments",
            "dryRun=true",
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &dry,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(result.steps[0].status, StepStatus::Skipped);
    assert_eq!(result.files, [ANSWERS_FILE]);
}
