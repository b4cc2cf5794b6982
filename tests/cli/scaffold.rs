//! `plat scaffold`: the built-in templates rendered file by file, the JSON a Backstage action
//! reads, dry runs, missing values, refusals that write nothing, publishing to a local bare
//! repository, and updates that merge or stop on conflicts (exit 3).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Outcome, TestEnv};

mod oracle;
mod publish;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/scaffold/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

/// Every file under `dir`, relative and sorted (`.git` left out).
fn tree(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

/// Writes a template directory from `(path, content)` pairs.
fn write_template(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
}

fn template_yaml(parameters: &str, steps: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: test\nspec:\n  parameters:\n{parameters}  steps:\n{steps}"
    )
}

const NAME_PARAMETER: &str =
    "    required: [name]\n    properties:\n      name:\n        type: string\n";

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn list_shows_built_in_templates_and_those_in_plat_template_path() {
    let env = TestEnv::new();
    let extra = env.root().join("team-templates");
    let parameters = "    properties:\n      flavour:\n        title: Flavour\n        type: string\n        enum: [vanilla, chocolate]\n        default: vanilla\n";
    write_template(
        &extra.join("scaffold/team-lib"),
        &[(
            "template.yaml",
            &template_yaml(
                parameters,
                "    - id: log\n      action: debug:log\n      input: {message: hi}\n",
            ),
        )],
    );
    let path = path_str(&extra);

    let table = env.run_with(&["scaffold", "list"], &[("PLAT_TEMPLATE_PATH", path)]);
    table.success();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{}", table.stdout);
    assert!(lines.iter().any(|l| l.starts_with("rust-service ")));
    assert!(lines.iter().any(|l| l.starts_with("docs-site ")));
    assert!(
        lines.iter().any(|l| l.starts_with("team-lib ")),
        "the team's template, by the name `run` takes"
    );

    let json = env
        .run_with(
            &["scaffold", "list", "-o", "json"],
            &[("PLAT_TEMPLATE_PATH", path)],
        )
        .json();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs-site", "rust-service", "team-lib"]);
    assert_eq!(json[1]["title"], "Rust service");

    // A template from PLAT_TEMPLATE_PATH is found by its directory name, with its enum shown.
    let shown = env
        .run_with(
            &["scaffold", "show", "team-lib", "-o", "json"],
            &[("PLAT_TEMPLATE_PATH", path)],
        )
        .json();
    assert_eq!(
        shown["parameters"][0]["enum"],
        serde_json::json!(["vanilla", "chocolate"])
    );
    assert_eq!(shown["parameters"][0]["default"], "vanilla");
}

#[test]
fn show_lists_parameters_with_title_type_required_and_default() {
    let env = TestEnv::new();
    let json = env
        .ok(&["scaffold", "show", "rust-service", "-o", "json"])
        .json();
    assert_eq!(json["name"], "rust-service");
    let parameter = |name: &str| {
        json["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}: {json}"))
            .clone()
    };
    let name = parameter("name");
    assert_eq!(name["title"], "Name");
    assert_eq!(name["type"], "string");
    assert_eq!(name["required"], true);
    let port = parameter("port");
    assert_eq!(port["type"], "integer");
    assert_eq!(port["required"], false);
    assert_eq!(port["default"], 8080);
    assert_eq!(parameter("withDocker")["default"], true);
    assert_eq!(parameter("repoUrl")["page"], "Repository");

    let table = env.ok(&["scaffold", "show", "rust-service"]);
    assert!(
        table.stdout.contains("port (integer) = 8080  Port"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("owner (string, required)"));

    let missing = env.run(&["scaffold", "show", "no-such-template"]);
    missing.failure(1);
    assert!(missing.stderr.contains("no template `no-such-template`"));
    assert!(
        missing
            .stderr
            .contains("hint: built-in templates: docs-site, rust-service"),
        "{}",
        missing.stderr
    );
}

#[test]
fn rust_service_renders_every_file_with_the_given_values() {
    let env = TestEnv::new();
    let target = env.root().join("billing");
    let out = env.ok(&[
        "scaffold",
        "run",
        "rust-service",
        path_str(&target),
        "--set",
        "name=billing-api",
        "--set",
        "owner=group:default/pay",
        "--set",
        "port=9000",
        "--set",
        "withDocker=false",
    ]);
    assert!(out.stderr.contains("Created"), "{}", out.stderr);
    assert_eq!(
        tree(&target),
        [
            ".github/workflows/ci.yml",
            ".gitignore",
            ".plat-answers.yml",
            "Cargo.toml",
            "README.md",
            "catalog-info.yaml",
            "src/main.rs",
        ],
        "no Dockerfile when withDocker=false"
    );
    assert!(read(target.join("Cargo.toml")).contains("name = \"billing-api\""));
    assert!(read(target.join("src/main.rs")).contains("\"0.0.0.0:9000\""));
    // The workflow is copied without templating: GitHub's own expressions survive.
    assert!(read(target.join(".github/workflows/ci.yml")).contains("${{ github.sha }}"));
    let readme = read(target.join("README.md"));
    assert!(readme.starts_with("# billing-api\n"), "{readme}");
    assert!(!readme.contains("docker build"));
    let catalog: Value = serde_yaml_ng::from_str(&read(target.join("catalog-info.yaml"))).unwrap();
    assert_eq!(catalog["kind"], "Component");
    assert_eq!(catalog["metadata"]["name"], "billing-api");
    assert_eq!(catalog["spec"]["owner"], "group:default/pay");
    let answers: Value = serde_yaml_ng::from_str(&read(target.join(".plat-answers.yml"))).unwrap();
    assert_eq!(answers["source"], "builtin:rust-service");
    assert_eq!(answers["values"]["port"], 9000, "typed by the schema");

    // Without TARGET the project goes to ./NAME (relative to where plat runs).
    env.ok(&[
        "scaffold",
        "run",
        "rust-service",
        "--set",
        "name=orders",
        "--set",
        "owner=group:default/shop",
    ]);
    let default_target = env.root().join("orders");
    assert!(
        default_target.join("Dockerfile").is_file(),
        "withDocker defaults to true"
    );
    assert!(read(default_target.join("Dockerfile")).contains("EXPOSE 8080"));
}

#[test]
fn docs_site_renders_a_page_per_section() {
    let env = TestEnv::new();
    let target = env.root().join("handbook");
    let values = env.root().join("values.yaml");
    std::fs::write(
        &values,
        "name: handbook\nowner: group:default/docs\ntitle: Old title\n",
    )
    .unwrap();
    env.ok(&[
        "scaffold",
        "run",
        "docs-site",
        path_str(&target),
        "--values",
        path_str(&values),
        "--set",
        "title=Handbook",
        "--set",
        "sections=faq-and-tips,how-to",
    ]);
    assert_eq!(
        tree(&target),
        [
            ".plat-answers.yml",
            "catalog-info.yaml",
            "docs/faq-and-tips.md",
            "docs/how-to.md",
            "docs/index.md",
            "mkdocs.yml",
        ]
    );
    let mkdocs = read(target.join("mkdocs.yml"));
    assert!(
        mkdocs.starts_with("site_name: Handbook\n"),
        "--set wins over --values: {mkdocs}"
    );
    assert!(
        mkdocs.contains("  - Faq And Tips: faq-and-tips.md\n"),
        "{mkdocs}"
    );
    assert!(mkdocs.contains("  - How To: how-to.md\n"), "{mkdocs}");
    assert!(read(target.join("docs/faq-and-tips.md")).starts_with("# Faq And Tips\n"));
    assert!(read(target.join("docs/index.md")).contains("owned by `group:default/docs`"));
    let catalog: Value = serde_yaml_ng::from_str(&read(target.join("catalog-info.yaml"))).unwrap();
    assert_eq!(catalog["metadata"]["name"], "handbook");
    assert_eq!(
        catalog["metadata"]["annotations"]["backstage.io/techdocs-ref"],
        "dir:."
    );
}

#[test]
fn json_output_carries_files_step_outputs_and_template_output() {
    let env = TestEnv::new();
    let target = env.root().join("orders");
    let out = env.ok(&[
        "scaffold",
        "run",
        &fixture("full"),
        path_str(&target),
        "--set",
        "name=orders",
        "-o",
        "json",
    ]);
    let json = out.json();
    assert_eq!(json["target"], path_str(&target));
    assert_eq!(json["dry_run"], false);
    let files: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 18, "{files:?}");
    assert_eq!(
        files,
        tree(&target),
        "the listed files are the files written"
    );

    let steps = json["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "fetch", "njk", "cookie", "plain", "license", "notes", "rename", "delete", "log",
            "catalog", "modules", "never"
        ]
    );
    for step in steps {
        assert!(
            step.get("output").is_some(),
            "every step has an output: {step}"
        );
    }
    let step = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap();
    assert_eq!(step("never")["status"], "skipped");
    assert_eq!(step("fetch")["status"], "completed");
    // `each`: Backstage gathers each output name into one array; fetch:template:file has none.
    assert_eq!(step("modules")["output"], serde_json::json!({}));

    assert_eq!(
        json["output"]["links"],
        serde_json::json!([{"title": "Catalog", "url": "https://backstage.example.com/catalog/default/component/orders"}])
    );
    assert_eq!(json["output"]["text"][0]["content"], "orders has 2 modules");
    assert_eq!(json["answers"]["values"]["replicas"], 2);

    // debug:log messages are shown on stderr as the run goes, and kept in the step's record.
    assert!(
        out.stderr.contains("Rendering orders with 2 replicas"),
        "{}",
        out.stderr
    );
    assert_eq!(
        step("log")["log"],
        serde_json::json!(["Rendering orders with 2 replicas"])
    );
    assert_eq!(read(target.join("README.md")), "# orders\n\nReplicas: 2\n");
}

#[test]
fn dry_run_lists_the_files_and_writes_nothing() {
    let env = TestEnv::new();
    let target = env.root().join("orders");
    let before = tree(env.root());
    let args = [
        "scaffold",
        "run",
        &fixture("full"),
        path_str(&target),
        "--set",
        "name=orders",
        "--dry-run",
    ];
    let table = env.ok(&args);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 18, "one path per line:\n{}", table.stdout);
    assert!(lines.contains(&"README.md"));
    assert!(lines.contains(&"modules/beta.txt"));

    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let json = env.ok(&json_args).json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["files"].as_array().unwrap().len(), 18);

    assert!(!target.exists(), "a dry run creates no target");
    assert_eq!(before, tree(env.root()), "nothing written anywhere");
}

#[test]
fn missing_required_parameters_are_listed_together_without_a_terminal() {
    let env = TestEnv::new();
    let target = env.root().join("svc");
    let out = env.run(&[
        "scaffold",
        "run",
        "rust-service",
        path_str(&target),
        "--set",
        "port=1",
    ]);
    out.failure(2);
    assert!(
        out.stderr
            .starts_with("error: missing required parameters: name, owner\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: pass them with --set name=… --set owner=…, or --values FILE"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    assert!(!target.exists(), "nothing written");

    // --no-input says the same even where a terminal might exist; -o json adds the error code.
    let json = env.run(&[
        "scaffold",
        "run",
        "rust-service",
        path_str(&target),
        "--no-input",
        "-o",
        "json",
    ]);
    json.failure(2);
    assert!(
        json.stderr.contains("\"code\":\"missing_values\""),
        "{}",
        json.stderr
    );
    assert!(!target.exists());
}

#[test]
fn a_non_empty_target_is_refused_unless_forced() {
    let env = TestEnv::new();
    let target = env.root().join("busy");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "mine").unwrap();
    let args = [
        "scaffold",
        "run",
        "docs-site",
        path_str(&target),
        "--set",
        "name=busy",
        "--set",
        "owner=group:default/docs",
    ];
    let refused = env.run(&args);
    refused.failure(1);
    assert!(
        refused.stderr.contains("is not empty"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--force"),
        "the hint names the way out"
    );
    assert_eq!(tree(&target), ["notes.txt"], "nothing written");

    let mut forced = args.to_vec();
    forced.push("--force");
    env.ok(&forced);
    assert_eq!(
        read(target.join("notes.txt")),
        "mine",
        "existing files are kept"
    );
    assert!(target.join("mkdocs.yml").is_file());
}

#[test]
fn a_path_leading_outside_the_target_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let template = env.root().join("evil");
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        targetPath: ../outside\n";
    write_template(
        &template,
        &[
            ("template.yaml", &template_yaml(NAME_PARAMETER, steps)),
            ("skeleton/a.txt", "a"),
        ],
    );
    let work = env.root().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let target = work.join("project");
    let out = env.run(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=x",
    ]);
    out.failure(1);
    assert!(out.stderr.contains("step `fetch`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("refusing path `../outside`"),
        "{}",
        out.stderr
    );
    assert!(
        tree(&work).is_empty(),
        "no target, no work directory left: {:?}",
        tree(&work)
    );
    assert!(!env.root().join("outside").exists());
}

#[test]
fn an_unknown_action_names_the_action_and_the_step_before_writing_anything() {
    let env = TestEnv::new();
    let template = env.root().join("odd");
    // As in Backstage, the action is looked up when its step runs: after its `if`, so the
    // step behind a false `if` is no error.
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: later\n      if: false\n      action: acme:never\n    - id: deploy\n      name: Deploy it\n      action: kubernetes:apply\n      input: {}\n";
    write_template(
        &template,
        &[
            ("template.yaml", &template_yaml(NAME_PARAMETER, steps)),
            ("skeleton/a.txt", "a"),
        ],
    );
    let target = env.root().join("project");
    let out = env.run(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=x",
    ]);
    out.failure(1);
    assert!(
        out.stderr
            .contains("error: step `deploy (Deploy it)` uses unknown action `kubernetes:apply`\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: supported actions: fetch:template")
    );
    assert!(!target.exists());
}

// --- Git: publishing and updating --------------------------------------------------------------

fn signature() -> git2::Signature<'static> {
    git2::Signature::now("Template Author", "templates@example.com").unwrap()
}

/// Commits everything in `dir` (a repository is created on first use); returns the commit id.
fn commit_all(dir: &Path, message: &str) -> String {
    let repo = git2::Repository::open(dir)
        .or_else(|_| git2::Repository::init(dir))
        .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let sig = signature();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
        .to_string()
}

fn publish_template(dir: &Path) {
    let parameters = "    required: [name, repoUrl]\n    properties:\n      name:\n        type: string\n      repoUrl:\n        type: string\n";
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n    - id: publish\n      action: publish:git\n      input:\n        repoUrl: ${{ parameters.repoUrl }}\n        defaultBranch: main\n        gitCommitMessage: scaffolded ${{ parameters.name }}\n";
    write_template(
        dir,
        &[
            ("template.yaml", &template_yaml(parameters, steps)),
            ("skeleton/hello.txt", "hello ${{ values.name }}\n"),
        ],
    );
}

fn run_publish(
    env: &TestEnv,
    template: &Path,
    target: &Path,
    url: &str,
    extra: &[(&str, &str)],
) -> Outcome {
    let out = env.run_with(
        &[
            "scaffold",
            "run",
            path_str(template),
            path_str(target),
            "--set",
            "name=demo",
            "--set",
            &format!("repoUrl={url}"),
            "-o",
            "json",
        ],
        extra,
    );
    out.success();
    out
}

#[test]
fn publish_git_pushes_a_commit_to_a_bare_repository() {
    let env = TestEnv::new();
    let template = env.root().join("publishing");
    publish_template(&template);
    let remote = env.root().join("remote.git");
    let bare = git2::Repository::init_bare(&remote).unwrap();
    let url = format!("file://{}", remote.display());
    let target = env.root().join("demo");

    let out = run_publish(
        &env,
        &template,
        &target,
        &url,
        &[
            ("GIT_AUTHOR_NAME", "Ana Lima"),
            ("GIT_AUTHOR_EMAIL", "ana@example.com"),
        ],
    );
    let json = out.json();
    let publish = &json["steps"][1];
    assert_eq!(publish["id"], "publish");
    assert_eq!(publish["output"]["remoteUrl"], url.as_str());
    let head = bare
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(
        publish["output"]["commitHash"],
        head.id().to_string().as_str()
    );
    assert_eq!(head.author().name().ok(), Some("Ana Lima"));
    assert_eq!(head.author().email().ok(), Some("ana@example.com"));
    assert_eq!(head.message().ok(), Some("scaffolded demo"));
    let blob = head
        .tree()
        .unwrap()
        .get_path(Path::new("hello.txt"))
        .unwrap()
        .to_object(&bare)
        .unwrap();
    assert_eq!(blob.as_blob().unwrap().content(), b"hello demo\n");
    assert!(
        target.join(".git").is_dir(),
        "the project is the pushed repository"
    );

    // Without GIT_AUTHOR_* the platform user commits (on the embedded platform, the operator).
    let remote2 = env.root().join("remote2.git");
    let bare2 = git2::Repository::init_bare(&remote2).unwrap();
    let target2 = env.root().join("demo2");
    run_publish(
        &env,
        &template,
        &target2,
        &format!("file://{}", remote2.display()),
        &[],
    );
    let user = env.ok(&["whoami", "-o", "json"]).json()["user"]
        .as_str()
        .unwrap()
        .to_owned();
    let head2 = bare2
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(head2.author().email().ok(), Some(user.as_str()));

    // --no-git renders but neither commits nor pushes.
    let remote3 = env.root().join("remote3.git");
    let bare3 = git2::Repository::init_bare(&remote3).unwrap();
    let target3 = env.root().join("demo3");
    let out = env.ok(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target3),
        "--set",
        "name=demo",
        "--set",
        &format!("repoUrl=file://{}", remote3.display()),
        "--no-git",
        "-o",
        "json",
    ]);
    assert_eq!(out.json()["steps"][1]["status"], "skipped");
    assert!(
        bare3.find_reference("refs/heads/main").is_err(),
        "nothing pushed"
    );
    assert!(!target3.join(".git").exists());
    assert_eq!(read(target3.join("hello.txt")), "hello demo\n");
}

/// A template living in its own Git repository, as `plat scaffold update` needs.
struct VersionedTemplate {
    dir: PathBuf,
}

impl VersionedTemplate {
    fn new(env: &TestEnv) -> Self {
        let dir = env.root().join("template-repo");
        let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n";
        write_template(
            &dir,
            &[
                ("template.yaml", &template_yaml(NAME_PARAMETER, steps)),
                (
                    "skeleton/app.txt",
                    "name: ${{ values.name }}\nline2\nline3\nline4\nline5\n",
                ),
            ],
        );
        commit_all(&dir, "first version");
        Self { dir }
    }

    fn change(&self, path: &str, content: &str, message: &str) {
        write_template(&self.dir, &[(path, content)]);
        commit_all(&self.dir, message);
    }
}

#[test]
fn update_merges_template_changes_with_local_edits() {
    let env = TestEnv::new();
    let template = VersionedTemplate::new(&env);
    let project = env.root().join("app");
    env.ok(&[
        "scaffold",
        "run",
        path_str(&template.dir),
        path_str(&project),
        "--set",
        "name=app",
    ]);
    assert_eq!(
        read(project.join("app.txt")),
        "name: app\nline2\nline3\nline4\nline5\n"
    );
    // The project's own edit, and the template's later changes elsewhere.
    std::fs::write(
        project.join("app.txt"),
        "name: app\nline2\nline3\nline4\nline5 mine\n",
    )
    .unwrap();
    template.change(
        "skeleton/app.txt",
        "name: ${{ values.name }}\nline2 new\nline3\nline4\nline5\n",
        "second version",
    );
    template.change(
        "skeleton/added.txt",
        "added for ${{ values.name }}\n",
        "a new file",
    );

    let dry = env.ok(&[
        "scaffold",
        "update",
        path_str(&project),
        "--dry-run",
        "-o",
        "json",
    ]);
    assert_eq!(dry.json()["dry_run"], true);
    assert_eq!(
        read(project.join("app.txt")),
        "name: app\nline2\nline3\nline4\nline5 mine\n",
        "a dry run writes nothing"
    );

    let out = env.ok(&["scaffold", "update", path_str(&project), "-o", "json"]);
    let json = out.json();
    assert_eq!(json["conflicts"], serde_json::json!([]));
    let changes = json["changes"].as_array().unwrap();
    assert!(
        changes.contains(&serde_json::json!({"path": "app.txt", "change": "merged"})),
        "{json}"
    );
    assert!(
        changes.contains(&serde_json::json!({"path": "added.txt", "change": "added"})),
        "{json}"
    );
    assert_eq!(
        read(project.join("app.txt")),
        "name: app\nline2 new\nline3\nline4\nline5 mine\n",
        "both changes kept"
    );
    assert_eq!(read(project.join("added.txt")), "added for app\n");
    let head = git2::Repository::open(&template.dir)
        .unwrap()
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    assert_eq!(json["to_commit"], head.as_str());
    assert!(
        read(project.join(".plat-answers.yml")).contains(&head),
        "the new version is recorded"
    );
}

#[test]
fn conflicting_update_exits_3_listing_the_paths_with_inline_markers() {
    let env = TestEnv::new();
    let template = VersionedTemplate::new(&env);
    let project = env.root().join("app");
    env.ok(&[
        "scaffold",
        "run",
        path_str(&template.dir),
        path_str(&project),
        "--set",
        "name=app",
    ]);
    std::fs::write(
        project.join("app.txt"),
        "name: app\nline2\nline3 mine\nline4\nline5\n",
    )
    .unwrap();
    template.change(
        "skeleton/app.txt",
        "name: ${{ values.name }}\nline2\nline3 theirs\nline4\nline5\n",
        "conflicting version",
    );

    // A dry run already tells CI the update would not apply cleanly.
    let dry = env.run(&["scaffold", "update", path_str(&project), "--dry-run"]);
    dry.failure(3);
    assert!(dry.stderr.contains("app.txt"), "{}", dry.stderr);
    assert!(!read(project.join("app.txt")).contains("<<<<<<<"));

    let out = env.run(&["scaffold", "update", path_str(&project)]);
    out.failure(3);
    assert!(
        out.stderr
            .contains("error: conflicting changes in 1 file(s): app.txt"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("conflict app.txt"), "{}", out.stdout);
    let merged = read(project.join("app.txt"));
    assert!(merged.contains("<<<<<<<"), "{merged}");
    assert!(merged.contains("line3 mine"), "{merged}");
    assert!(merged.contains("line3 theirs"), "{merged}");
    assert!(merged.contains(">>>>>>>"), "{merged}");
}

#[test]
fn conflicting_update_with_rej_keeps_the_file_and_writes_the_change_beside_it() {
    let env = TestEnv::new();
    let template = VersionedTemplate::new(&env);
    let project = env.root().join("app");
    env.ok(&[
        "scaffold",
        "run",
        path_str(&template.dir),
        path_str(&project),
        "--set",
        "name=app",
    ]);
    let mine = "name: app\nline2\nline3 mine\nline4\nline5\n";
    std::fs::write(project.join("app.txt"), mine).unwrap();
    template.change(
        "skeleton/app.txt",
        "name: ${{ values.name }}\nline2\nline3 theirs\nline4\nline5\n",
        "conflicting version",
    );
    let out = env.run(&[
        "scaffold",
        "update",
        path_str(&project),
        "--conflict",
        "rej",
        "-o",
        "json",
    ]);
    out.failure(3);
    assert_eq!(out.json()["conflicts"], serde_json::json!(["app.txt"]));
    assert!(
        out.stderr.contains("\"code\":\"update_conflicts\""),
        "{}",
        out.stderr
    );
    assert_eq!(
        read(project.join("app.txt")),
        mine,
        "the project's file is kept"
    );
    assert!(read(project.join("app.txt.rej")).contains("+line3 theirs"));
}

#[test]
fn a_git_url_with_a_ref_renders_that_version_and_records_it() {
    let env = TestEnv::new();
    let template = VersionedTemplate::new(&env);
    let first = git2::Repository::open(&template.dir)
        .unwrap()
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    template.change(
        "skeleton/app.txt",
        "name: ${{ values.name }}\nchanged later\n",
        "second version",
    );
    let url = format!("file://{}", template.dir.display());
    let project = env.root().join("pinned");
    env.ok(&[
        "scaffold",
        "run",
        &format!("{url}#{first}"),
        path_str(&project),
        "--set",
        "name=pinned",
    ]);
    assert_eq!(
        read(project.join("app.txt")),
        "name: pinned\nline2\nline3\nline4\nline5\n",
        "the pinned version, not the tip"
    );
    let answers: Value = serde_yaml_ng::from_str(&read(project.join(".plat-answers.yml"))).unwrap();
    assert_eq!(answers["source"], url.as_str());
    assert_eq!(answers["commit"], first.as_str());
}

// --- Offline shape, confinement, answers (issue 16) --------------------------------------------

const STANDARD_STEPS: &str = "    - id: fetch\n      name: Fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n    - id: publish\n      name: Publish\n      action: publish:github\n      input:\n        repoUrl: github.com?owner=acme&repo=${{ parameters.name }}\n    - id: pr\n      name: Pull request\n      action: publish:bitbucketCloud\n      input: {}\n    - id: register\n      name: Register\n      action: catalog:register\n      input:\n        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}\n        catalogInfoPath: /catalog-info.yaml\n";

fn standard_template(env: &TestEnv) -> PathBuf {
    let template = env.root().join("standard");
    let yaml = template_yaml(NAME_PARAMETER, STANDARD_STEPS)
        + "  output:\n    links:\n      - title: Repository\n        url: ${{ steps.publish.output.remoteUrl }}\n    mainBranch: main\n    entity: ${{ steps.register.output }}\n";
    write_template(
        &template,
        &[
            ("template.yaml", &yaml),
            ("skeleton/catalog-info.yaml", "name: ${{ values.name }}\n"),
        ],
    );
    template
}

#[test]
fn no_git_renders_the_standard_shape_offline_skipping_remote_steps_with_example_outputs() {
    let env = TestEnv::new();
    let template = standard_template(&env);
    let target = env.root().join("out");
    let out = env.run(&[
        "-o",
        "json",
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=orders",
        "--no-git",
    ]);
    out.success();
    let json = out.json();
    let steps = json["steps"].as_array().unwrap();
    for id in ["publish", "pr", "register"] {
        let step = steps.iter().find(|s| s["id"] == id).unwrap();
        assert_eq!(step["status"], "skipped", "{step}");
    }
    assert!(
        out.stderr.contains("skipped `publish:github` (--no-git)"),
        "{}",
        out.stderr
    );
    assert_eq!(json["output"]["links"][0]["url"], "<example>");
    assert_eq!(
        json["output"]["mainBranch"], "main",
        "every output key kept"
    );
    assert_eq!(read(target.join("catalog-info.yaml")), "name: orders\n");
}

#[test]
fn dry_run_json_reports_files_with_digests_steps_and_output_and_writes_nothing() {
    let env = TestEnv::new();
    let template = standard_template(&env);
    let target = env.root().join("out");
    let out = env.run(&[
        "-o",
        "json",
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=orders",
        "--dry-run",
    ]);
    out.success();
    assert!(!target.exists(), "a dry run writes nothing");
    let json = out.json();
    let catalog = json["file_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "catalog-info.yaml")
        .unwrap()
        .clone();
    assert_eq!(catalog["size"], 13);
    assert_eq!(catalog["sha256"], sha256_hex(b"name: orders\n"));
    let status = |id: &str| {
        json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("fetch"), "completed");
    assert_eq!(status("publish"), "simulated");
    assert_eq!(status("register"), "simulated");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn an_unknown_publish_action_is_skipped_offline_but_fails_a_real_run_naming_the_step() {
    let env = TestEnv::new();
    let template = env.root().join("bitbucket");
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: publish\n      name: Publish to Bitbucket\n      action: publish:bitbucketCloud\n      input: {}\n";
    write_template(
        &template,
        &[
            ("template.yaml", &template_yaml(NAME_PARAMETER, steps)),
            ("skeleton/a.txt", "a"),
        ],
    );
    let offline = env.root().join("offline");
    env.ok(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&offline),
        "--set",
        "name=x",
        "--no-git",
    ]);
    assert_eq!(read(offline.join("a.txt")), "a");
    let target = env.root().join("real");
    let out = env.run(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=x",
    ]);
    out.failure(1);
    assert!(
        out.stderr.contains(
            "step `publish (Publish to Bitbucket)` uses unknown action `publish:bitbucketCloud`"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: supported actions:"),
        "{}",
        out.stderr
    );
    assert!(!target.exists());
}

fn confined(url_action: &str, url: &str) -> (TestEnv, Outcome, PathBuf) {
    let env = TestEnv::new();
    let template = env.root().join("tpl");
    let steps = format!(
        "    - id: grab\n      action: {url_action}\n      input:\n        url: {url}\n        targetPath: ./grabbed\n"
    );
    write_template(
        &template,
        &[
            ("template.yaml", &template_yaml(NAME_PARAMETER, &steps)),
            ("skeleton/a.txt", "a"),
        ],
    );
    let target = env.root().join("out");
    let out = env.run(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=x",
    ]);
    (env, out, target)
}

#[test]
fn local_urls_outside_the_template_are_refused_and_nothing_is_written() {
    for (action, url) in [
        ("fetch:plain:file", "/etc/hostname"),
        ("fetch:plain:file", "../../../../../../etc/os-release"),
        ("fetch:plain", "/etc/apt"),
        ("fetch:template", "../"),
        ("fetch:template:file", "/etc/hostname"),
    ] {
        let (env, out, target) = confined(action, url);
        out.failure(1);
        assert!(
            out.stderr.contains(&format!("refusing url `{url}`")),
            "{action} {url}: {}",
            out.stderr
        );
        assert!(!target.exists(), "{action} {url} wrote the target");
        assert!(
            tree(env.root())
                .iter()
                .all(|path| path.starts_with("tpl/") || !path.starts_with("out")),
            "{action} {url} left files"
        );
    }
}

#[test]
fn climbs_that_stay_inside_the_template_repository_keep_working_and_answers_hold_no_absolute_path()
{
    let env = TestEnv::new();
    let repo = env.root().join("templates-repo");
    let steps = "    - id: shared\n      action: fetch:template\n      input:\n        url: ../../skeletons/base\n        values:\n          name: ${{ parameters.name }}\n";
    write_template(
        &repo,
        &[
            (
                "templates/service/template.yaml",
                &template_yaml(NAME_PARAMETER, steps),
            ),
            ("skeletons/base/README.md", "# ${{ values.name }}\n"),
        ],
    );
    let git = git2::Repository::init(&repo).unwrap();
    let mut index = git.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("t", "t@example.com").unwrap();
    git.commit(Some("HEAD"), &signature, &signature, "init", &tree, &[])
        .unwrap();
    let target = env.root().join("projects/svc");
    env.ok(&[
        "scaffold",
        "run",
        path_str(&repo.join("templates/service")),
        path_str(&target),
        "--set",
        "name=svc",
    ]);
    assert_eq!(read(target.join("README.md")), "# svc\n");
    let answers = read(target.join(".plat-answers.yml"));
    assert!(
        answers.contains("source: ../../templates-repo/templates/service"),
        "{answers}"
    );
    assert!(!answers.contains(path_str(env.root())), "{answers}");
}

#[test]
fn publishing_without_a_token_fails_clearly_pointing_at_no_git_and_writes_nothing() {
    let env = TestEnv::new();
    let template = env.root().join("gh");
    let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: publish\n      name: Publish\n      action: publish:github\n      input:\n        repoUrl: github.com?owner=acme&repo=x\n";
    write_template(
        &template,
        &[
            ("template.yaml", &template_yaml(NAME_PARAMETER, steps)),
            ("skeleton/a.txt", "a"),
        ],
    );
    let target = env.root().join("out");
    let out: Outcome = env
        .command(&[
            "scaffold",
            "run",
            path_str(&template),
            path_str(&target),
            "--set",
            "name=x",
        ])
        .env_remove("GITHUB_TOKEN")
        .output()
        .expect("run plat")
        .into();
    out.failure(1);
    assert!(
        out.stderr
            .contains("publish:github needs a token: GITHUB_TOKEN is not set"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--no-git"), "{}", out.stderr);
    assert!(!target.exists());
}

#[test]
fn built_in_templates_update_when_rendered_by_this_plat_and_say_why_not_otherwise() {
    let env = TestEnv::new();
    let target = env.root().join("payments");
    env.ok(&[
        "scaffold",
        "run",
        "rust-service",
        path_str(&target),
        "--set",
        "name=payments",
        "--set",
        "owner=group:default/team-a",
        "--no-git",
    ]);
    let answers = read(target.join(".plat-answers.yml"));
    assert!(
        answers.contains(&format!("plat_version: {}", env!("CARGO_PKG_VERSION"))),
        "{answers}"
    );
    let readme = target.join("README.md");
    std::fs::write(&readme, format!("{}\nA line of ours.\n", read(&readme))).unwrap();
    env.ok(&[
        "scaffold",
        "update",
        path_str(&target),
        "--set",
        "description=Payments API",
    ]);
    assert!(
        read(&readme).contains("A line of ours."),
        "our change stays"
    );
    assert!(read(target.join(".plat-answers.yml")).contains("Payments API"));

    let older = read(target.join(".plat-answers.yml")).replace(
        &format!("plat_version: {}", env!("CARGO_PKG_VERSION")),
        "plat_version: 0.0.1",
    );
    std::fs::write(target.join(".plat-answers.yml"), older).unwrap();
    let out = env.run(&["scaffold", "update", path_str(&target)]);
    out.failure(1);
    assert!(
        out.stderr.contains("was rendered by plat 0.0.1"),
        "{}",
        out.stderr
    );
}
