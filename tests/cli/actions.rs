//! plat in GitHub Actions (issue 18): the workflows, `action.yml` and the Dockerfile pass the
//! linters GitHub's own users run, and the setup action's script installs a release that it
//! downloads from a local HTTP server serving a fake release made from this test's binary.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::support::{BIN, Outcome};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A linter installed by scripts/test.sh (variable `var`), else one on PATH. Under CI a missing
/// linter fails the test; on a laptop without it the test says so and passes.
fn linter(var: &str, name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(var) {
        return Some(PathBuf::from(path));
    }
    let on_path = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if on_path.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is missing: scripts/test.sh installs it and sets {var}"
        );
        #[allow(clippy::print_stderr)] // the one line that says why the test checked nothing
        {
            eprintln!("skipped: {name} is not installed (scripts/test.sh installs it)");
        }
    }
    on_path
}

fn run_linter(program: &Path, args: &[&str]) -> Outcome {
    Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run linter")
        .into()
}

#[test]
fn actionlint_is_clean_on_every_workflow_and_on_action_yml() {
    let Some(actionlint) = linter("PLAT_ACTIONLINT", "actionlint") else {
        return;
    };
    // actionlint reads action.yml through the workflow that uses `./` (setup-action.yml), so it
    // must stay referenced; shellcheck (Debian package) checks every `run:` script when on PATH.
    let workflows = std::fs::read_to_string(repo().join(".github/workflows/setup-action.yml"))
        .expect("setup-action workflow");
    assert!(
        workflows.contains("uses: ./\n"),
        "action.yml is no longer checked"
    );
    run_linter(&actionlint, &[]).success();
}

#[test]
fn actionlint_is_clean_on_the_readme_workflow() {
    let Some(actionlint) = linter("PLAT_ACTIONLINT", "actionlint") else {
        return;
    };
    let yaml = readme_workflow_yaml();
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join(".github/workflows")).unwrap();
    std::fs::write(copy.path().join(".github/workflows/review-env.yml"), yaml).unwrap();
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(copy.path())
        .status();
    assert!(init.unwrap().success());
    let out: Outcome = Command::new(&actionlint)
        .current_dir(copy.path())
        .output()
        .unwrap()
        .into();
    out.success();
}

#[test]
fn actionlint_rejects_a_broken_action_yml() {
    let Some(actionlint) = linter("PLAT_ACTIONLINT", "actionlint") else {
        return;
    };
    // The same check on a copy whose composite step lost its `shell:`: proves action.yml is read.
    let copy = tempfile::tempdir().unwrap();
    // actionlint looks for the project root (a Git repository) to resolve `uses: ./`.
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(copy.path())
        .status();
    assert!(init.unwrap().success());
    std::fs::create_dir_all(copy.path().join(".github/workflows")).unwrap();
    let action = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    std::fs::write(
        copy.path().join("action.yml"),
        action.replace("      shell: bash\n", ""),
    )
    .unwrap();
    std::fs::copy(
        repo().join(".github/workflows/setup-action.yml"),
        copy.path().join(".github/workflows/setup-action.yml"),
    )
    .unwrap();
    let out: Outcome = Command::new(&actionlint)
        .current_dir(copy.path())
        .output()
        .unwrap()
        .into();
    out.failure(1);
    assert!(
        out.stdout.contains("requires \"shell\" key"),
        "{}",
        out.stdout
    );
}

#[test]
fn hadolint_is_clean_on_the_dockerfile() {
    let Some(hadolint) = linter("PLAT_HADOLINT", "hadolint") else {
        return;
    };
    run_linter(&hadolint, &["--no-color", "Dockerfile"]).success();
}

#[test]
fn shellcheck_is_clean_on_the_setup_script() {
    let Some(shellcheck) = linter("PLAT_SHELLCHECK", "shellcheck") else {
        return;
    };
    run_linter(&shellcheck, &["scripts/setup-action.sh"]).success();
}

/// A loopback HTTP server with GitHub's release layout: `/releases/latest` redirects to
/// `/releases/tag/<tag>`, assets at `/releases/download/<tag>/<name>`. Records every path asked.
struct FakeReleases {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeReleases {
    fn serve(latest: &str, files: BTreeMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let latest = latest.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push(path.clone());
                let (head, body): (String, &[u8]) = if path == "/releases/latest" {
                    (
                        format!("302 Found\r\nLocation: /releases/tag/{latest}"),
                        b"",
                    )
                } else if let Some(body) = files.get(&path) {
                    ("200 OK".into(), body)
                } else {
                    ("404 Not Found".into(), b"Not Found")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            }
        });
        Self { port, asked }
    }

    fn releases_url(&self) -> String {
        format!("http://127.0.0.1:{}/releases", self.port)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// `plat-<tag>-<target>.tar.gz` holding this test's own plat binary, as release.yml builds it.
/// The archive is made once per test process: the binary is stripped of its debug info first
/// (it is ~450 MB in a debug build), and every tag and target gets the same bytes.
fn archive(tag: &str, target: &str) -> (String, Vec<u8>) {
    static ARCHIVE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bytes = ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("strip")
            .args(["--strip-debug", "-o"])
            .arg(dir.path().join("plat"))
            .arg(BIN)
            .status()
            .unwrap();
        assert!(status.success(), "strip the test's plat binary");
        std::fs::write(dir.path().join("README.md"), "plat\n").unwrap();
        let status = Command::new("sh")
            .args(["-c", "tar -cf - plat README.md | gzip -1 > plat.tar.gz"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(dir.path().join("plat.tar.gz")).unwrap()
    });
    (format!("plat-{tag}-{target}.tar.gz"), bytes.clone())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A release `tag` for `targets`, with SHA256SUMS (`tamper`: one wrong checksum line).
fn release(
    files: &mut BTreeMap<String, Vec<u8>>,
    tag: &str,
    targets: &[&str],
    tamper: Option<&str>,
) {
    let mut sums = String::new();
    for target in targets {
        let (name, bytes) = archive(tag, target);
        let sum = if tamper == Some(*target) {
            sha256_hex(b"something else")
        } else {
            sha256_hex(&bytes)
        };
        sums.push_str(&format!("{sum}  {name}\n"));
        files.insert(format!("/releases/download/{tag}/{name}"), bytes);
    }
    files.insert(
        format!("/releases/download/{tag}/SHA256SUMS"),
        sums.into_bytes(),
    );
    files.insert(
        format!("/releases/tag/{tag}"),
        b"<html>release page</html>".to_vec(),
    );
}

/// A runner's environment: its own tool cache, temp dir and GitHub command files.
struct Runner {
    dir: tempfile::TempDir,
    vars: BTreeMap<String, String>,
}

impl Runner {
    fn new(os: &str, arch: &str, releases: &FakeReleases) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut vars = BTreeMap::new();
        for (name, sub) in [
            ("HOME", "home"),
            ("XDG_CONFIG_HOME", "xdg/config"),
            ("XDG_DATA_HOME", "xdg/data"),
            ("PLAT_CONFIG_DIR", "plat/config"),
            ("PLAT_DATA_DIR", "plat/data"),
            ("RUNNER_TOOL_CACHE", "toolcache"),
            ("RUNNER_TEMP", "temp"),
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            vars.insert(name.into(), root.join(sub).display().to_string());
        }
        for (name, file) in [
            ("GITHUB_PATH", "github_path"),
            ("GITHUB_OUTPUT", "github_output"),
            ("GITHUB_ENV", "github_env"),
        ] {
            std::fs::write(root.join(file), "").unwrap();
            vars.insert(name.into(), root.join(file).display().to_string());
        }
        vars.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        vars.insert("GITHUB_ACTIONS".into(), "true".into());
        vars.insert("RUNNER_OS".into(), os.into());
        vars.insert("RUNNER_ARCH".into(), arch.into());
        vars.insert("PLAT_SETUP_RELEASES".into(), releases.releases_url());
        Self { dir, vars }
    }

    fn setup(&self, inputs: &[(&str, &str)]) -> Outcome {
        Command::new(repo().join("scripts/setup-action.sh"))
            .env_clear()
            .envs(&self.vars)
            .envs(inputs.iter().copied())
            .current_dir(self.dir.path())
            .output()
            .expect("run setup-action.sh")
            .into()
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn tool_cache(&self) -> PathBuf {
        self.dir.path().join("toolcache/plat")
    }
}

const LINUX_X64: &str = "x86_64-unknown-linux-musl";
const MAC_ARM: &str = "aarch64-apple-darwin";

#[test]
fn setup_action_installs_the_latest_release_verified_cached_and_on_path() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.0.0", &[LINUX_X64], None);
    release(&mut files, "v1.1.0", &[LINUX_X64, MAC_ARM], None);
    let releases = FakeReleases::serve("v1.1.0", files);
    let runner = Runner::new("Linux", "X64", &releases);

    runner.setup(&[]).success();
    let dir = runner.tool_cache().join("1.1.0/x64");
    assert_eq!(runner.file("github_path"), format!("{}\n", dir.display()));
    assert_eq!(
        runner.file("github_output"),
        format!("version=1.1.0\npath={}/plat\n", dir.display())
    );
    assert!(runner.tool_cache().join("1.1.0/x64.complete").exists());
    let version = Command::new(dir.join("plat"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert_eq!(
        releases.asked(),
        [
            "/releases/latest",
            "/releases/tag/v1.1.0",
            "/releases/download/v1.1.0/plat-v1.1.0-x86_64-unknown-linux-musl.tar.gz",
            "/releases/download/v1.1.0/SHA256SUMS",
        ]
    );

    // A second job step (or job on the same runner) reuses the tool cache: nothing downloaded.
    runner.setup(&[]).success();
    assert_eq!(releases.asked().len(), 6, "{:?}", releases.asked());
    assert!(releases.asked()[5].ends_with("/tag/v1.1.0"));
}

#[test]
fn setup_action_installs_the_asked_version_for_the_runners_platform() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.0.0", &[LINUX_X64, MAC_ARM], None);
    release(&mut files, "v1.1.0", &[LINUX_X64, MAC_ARM], None);
    let releases = FakeReleases::serve("v1.1.0", files);
    // The fake "macOS" archive holds this Linux binary, so the installed plat still runs here.
    let runner = Runner::new("macOS", "ARM64", &releases);

    runner.setup(&[("PLAT_SETUP_VERSION", "1.0.0")]).success();
    assert!(runner.tool_cache().join("1.0.0/arm64/plat").exists());
    assert_eq!(
        releases.asked(),
        [
            "/releases/download/v1.0.0/plat-v1.0.0-aarch64-apple-darwin.tar.gz",
            "/releases/download/v1.0.0/SHA256SUMS",
        ]
    );
}

#[test]
fn setup_action_refuses_an_archive_whose_checksum_does_not_match() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.1.0", &[LINUX_X64], Some(LINUX_X64));
    let releases = FakeReleases::serve("v1.1.0", files);
    let runner = Runner::new("Linux", "X64", &releases);

    let out = runner.setup(&[]);
    out.failure(1);
    assert!(
        out.stderr.contains("::error title=plat setup::checksum mismatch for plat-v1.1.0-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        out.transcript()
    );
    // Nothing installed, cached or put on PATH.
    assert!(!runner.tool_cache().exists());
    assert_eq!(runner.file("github_path"), "");
    assert_eq!(runner.file("github_output"), "");
}

#[test]
fn setup_action_names_an_unknown_platform_and_downloads_nothing() {
    let releases = FakeReleases::serve("v1.1.0", BTreeMap::new());
    let runner = Runner::new("Linux", "ARM", &releases);

    let out = runner.setup(&[]);
    out.failure(1);
    assert!(
        out.stderr
            .contains("::error title=plat setup::no plat release is built for Linux/ARM"),
        "{}",
        out.transcript()
    );
    assert!(releases.asked().is_empty());
    assert_eq!(runner.file("github_path"), "");
}

#[test]
fn setup_action_reports_a_missing_version() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.1.0", &[LINUX_X64], None);
    let releases = FakeReleases::serve("v1.1.0", files);
    let runner = Runner::new("Linux", "X64", &releases);

    let out = runner.setup(&[("PLAT_SETUP_VERSION", "9.9.9")]);
    out.failure(1);
    assert!(
        out.stderr
            .contains("cannot download plat-v9.9.9-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        out.transcript()
    );
    let out = runner.setup(&[("PLAT_SETUP_VERSION", "main")]);
    out.failure(1);
    assert!(out.stderr.contains("'vmain' is not a release version"));
}

#[test]
fn setup_action_token_login_masks_the_token_and_hands_it_to_later_steps() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.1.0", &[LINUX_X64], None);
    let releases = FakeReleases::serve("v1.1.0", files);
    let runner = Runner::new("Linux", "X64", &releases);

    let out = runner.setup(&[
        ("PLAT_SETUP_LOGIN", "token"),
        ("PLAT_SETUP_SERVER", "https://plat.example.com"),
        ("PLAT_SETUP_TOKEN", "s3cret-token"),
    ]);
    out.success();
    assert!(out.stdout.contains("::add-mask::s3cret-token\n"));
    assert!(!out.stderr.contains("s3cret-token"));
    let github_env = runner.file("github_env");
    let lines: Vec<&str> = github_env.lines().collect();
    assert!(lines[0].starts_with("PLAT_TOKEN<<"), "{github_env}");
    assert_eq!(lines[1], "s3cret-token");
    let config =
        std::fs::read_to_string(runner.dir.path().join("plat/config/config.yaml")).unwrap();
    assert!(
        config.contains("server: https://plat.example.com"),
        "{config}"
    );
    assert!(config.contains("current_context: ci"), "{config}");

    // Asked for a login but given no token: a clear error.
    let out = runner.setup(&[
        ("PLAT_SETUP_LOGIN", "token"),
        ("PLAT_SETUP_SERVER", "https://plat.example.com"),
    ]);
    out.failure(1);
    assert!(out.stderr.contains("login: token needs the token input"));
}

#[test]
fn setup_action_oidc_login_needs_the_id_token_permission() {
    let mut files = BTreeMap::new();
    release(&mut files, "v1.1.0", &[LINUX_X64], None);
    let releases = FakeReleases::serve("v1.1.0", files);
    let runner = Runner::new("Linux", "X64", &releases);

    let out = runner.setup(&[
        ("PLAT_SETUP_LOGIN", "oidc"),
        ("PLAT_SETUP_SERVER", "https://plat.example.com"),
    ]);
    out.failure(1);
    assert!(
        out.stderr.contains("permissions: id-token: write"),
        "{}",
        out.transcript()
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

on_every_backend! {
    fn env_up_under_actions_keeps_json_stdout_pure_and_a_retry_publishes_the_same_outputs() {
        let env = crate::support::TestEnv::new();
        let files = |n: u8| (env.root().join(format!("output-{n}")), env.root().join(format!("summary-{n}")));
        let up = |n: u8| {
            let (output, summary) = files(n);
            env.run_with(
                &["env", "up", "review-7", "--template", "demo", "--idempotency-key", "pr-7", "-o", "json"],
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_OUTPUT", output.to_str().unwrap()),
                    ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
                ],
            )
        };

        let first = up(1);
        first.success();
        // stdout is the env as JSON and nothing else: workflow commands went to stderr.
        assert_eq!(first.json()["name"], "review-7", "{}", first.transcript());
        let outputs = read(&files(1).0);
        assert!(outputs.starts_with("env_name=review-7\nenv_expires_at="), "{outputs}");
        assert!(outputs.contains("\noutput_kube_api_url="), "{outputs}");
        let password = outputs
            .lines()
            .find_map(|l| l.strip_prefix("output_argocd_admin_password="))
            .expect("the sensitive output is a step output");
        assert_eq!(first.json()["outputs"]["argocd_admin_password"], "(sensitive value)");
        assert!(first.stderr.contains(&format!("::add-mask::{password}\n")), "{}", first.stderr);
        // The mask comes before the value can show up anywhere, and Terraform's lines are folded.
        let group = first.stderr.find("::group::Terraform: provision environment review-7\n").expect("a fold");
        let end = first.stderr.find("::endgroup::\n").expect("the fold ends");
        assert!(group < end);
        assert!(read(&files(1).1).contains("### Environment `review-7`"));

        // The CI job retried with the same key: the same env, outputs and summary, nothing new.
        let second = up(2);
        second.success();
        assert_eq!(second.json()["id"], first.json()["id"]);
        assert!(second.stderr.contains(&format!("::add-mask::{password}\n")), "{}", second.stderr);
        assert_eq!(read(&files(2).0), outputs);
        assert_eq!(read(&files(2).1), read(&files(1).1));
    }
}

/// The workflow of the README's section "In CI (GitHub Actions)": its first yaml block.
fn readme_workflow_yaml() -> String {
    let readme = read(&repo().join("README.md"));
    let section = readme
        .split("## In CI (GitHub Actions)")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README's CI section");
    section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block in the CI section")
        .to_owned()
}

fn readme_workflow() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&readme_workflow_yaml()).expect("the README workflow is YAML")
}

fn text(value: &serde_yaml_ng::Value) -> String {
    match value {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `name=value` lines and `name<<DELIM` heredocs of a `$GITHUB_OUTPUT` file.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            outputs.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_owned(), value.to_owned());
        }
    }
    outputs
}

/// One pull-request event run through the README workflow the way a runner would: `${{ }}`
/// expressions from a fixed context, `uses:` steps emulated (the setup action's OIDC login,
/// checkout, the SARIF upload checked for a valid file), every `run:` step in bash with
/// GITHUB_ACTIONS, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. Returns each run step's outcome.
struct RecipeRunner<'a> {
    env: &'a crate::support::TestEnv,
    workflow: serde_yaml_ng::Value,
    work: PathBuf,
    /// The runner's ID token endpoint, for the pull request's job.
    github: crate::trust::Runner,
}

struct StepRun {
    script: String,
    out: Outcome,
    outputs: BTreeMap<String, String>,
}

impl RecipeRunner<'_> {
    fn expression(
        &self,
        expr: &str,
        action: &str,
        steps: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> String {
        let expr = expr.trim();
        if expr == "github.event.pull_request.number" {
            return "42".into();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, name) = rest
                .split_once(".outputs.")
                .expect("steps.<id>.outputs.<name>");
            return steps[id].get(name).cloned().unwrap_or_default();
        }
        if let Some(value) = expr.strip_prefix("github.event.action == ") {
            return (action == value.trim_matches('\'')).to_string();
        }
        if let Some(value) = expr.strip_prefix("github.event.action != ") {
            return (action != value.trim_matches('\'')).to_string();
        }
        panic!("the README workflow uses an expression this test does not know: {expr}");
    }

    fn eval(
        &self,
        text: &str,
        action: &str,
        steps: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&self.expression(&rest[start + 3..end], action, steps));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn env_of(
        &self,
        node: &serde_yaml_ng::Value,
        action: &str,
        steps: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Vec<(String, String)> {
        node.get("env")
            .and_then(|e| e.as_mapping())
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (text(k), self.eval(&text(v), action, steps)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs every job whose `if:` holds for the event `action`.
    fn run(&self, action: &str) -> Vec<StepRun> {
        let no_steps = BTreeMap::new();
        let mut runs = Vec::new();
        let jobs = self.workflow["jobs"].as_mapping().expect("jobs");
        for (_, job) in jobs {
            if let Some(condition) = job.get("if")
                && self.expression(&text(condition), action, &no_steps) != "true"
            {
                continue;
            }
            let mut vars: Vec<(String, String)> = self.env_of(&self.workflow, action, &no_steps);
            let mut outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
            vars.push((
                "PATH".into(),
                format!("{bin_dir}:{}", self.env.vars["PATH"]),
            ));
            for step in job["steps"].as_sequence().expect("steps") {
                if let Some(uses) = step.get("uses").map(text) {
                    if uses.contains("/plat@") {
                        // What scripts/setup-action.sh does for `login: oidc`, in a job whose
                        // runner hands out ID tokens; later steps keep the runner's variables.
                        assert_eq!(text(&step["with"]["login"]), "oidc");
                        let server = self.env.server.as_ref().unwrap().url.clone();
                        let runner_vars = self.github.vars();
                        let mut login = self.env.command(&[
                            "login",
                            "--github-actions",
                            "--server",
                            &server,
                            "--audience",
                            crate::trust::AUD,
                        ]);
                        login.envs(runner_vars.iter().map(|(k, v)| (*k, v.as_str())));
                        Outcome::from(login.output().unwrap()).success();
                        vars.extend(
                            runner_vars
                                .iter()
                                .map(|(k, v)| ((*k).to_owned(), v.clone())),
                        );
                    } else if uses.starts_with("github/codeql-action/upload-sarif@") {
                        let file = self.work.join(text(&step["with"]["sarif_file"]));
                        let sarif: serde_json::Value =
                            serde_json::from_str(&read(&file)).expect("the SARIF file is JSON");
                        assert!(sarif["runs"].is_array(), "{sarif}");
                    } else {
                        assert!(
                            uses.starts_with("actions/checkout@"),
                            "unknown action {uses}"
                        );
                    }
                    continue;
                }
                let script = text(&step["run"]);
                let step_vars = self.env_of(step, action, &outputs);
                let output_file = self.work.join("github_output");
                let summary_file = self.work.join("github_summary");
                std::fs::write(&output_file, "").unwrap();
                let out: Outcome = Command::new("bash")
                    .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                    .env_clear()
                    .envs(self.env.vars.iter().filter(|(k, _)| k.as_str() != "PATH"))
                    .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .envs(step_vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .env("GITHUB_ACTIONS", "true")
                    .env("CI", "true")
                    .env("GITHUB_OUTPUT", &output_file)
                    .env("GITHUB_STEP_SUMMARY", &summary_file)
                    .current_dir(&self.work)
                    .output()
                    .unwrap()
                    .into();
                let written = parse_github_output(&read(&output_file));
                if let Some(id) = step.get("id") {
                    outputs.insert(text(id), written.clone());
                }
                // Every `-o json` answer is JSON, whether it went to stdout or to a file.
                if script.contains("-o json") {
                    let json = match script.split_once(" > ") {
                        Some((_, file)) => read(&self.work.join(file.trim())),
                        None => out.stdout.clone(),
                    };
                    serde_json::from_str::<serde_json::Value>(&json)
                        .unwrap_or_else(|err| panic!("`{script}` gave no JSON ({err}):\n{json}"));
                }
                let failed = out.code != 0;
                runs.push(StepRun {
                    script,
                    out,
                    outputs: written,
                });
                if failed {
                    break;
                }
            }
        }
        runs
    }
}

#[test]
fn readme_ci_recipe_runs_as_written_against_a_team_server() {
    crate::support::with_backend(crate::support::Backend::ServerSqlite, || {
        let env = crate::support::TestEnv::new();
        let workflow = readme_workflow();
        assert_eq!(workflow["permissions"]["security-events"], "write");
        assert_eq!(workflow["permissions"]["id-token"], "write");
        // The team trusts the pull requests of acme/shop with a group that makes envs, and
        // lets CI make more than the default one env per day.
        env.ok(&[
            "group",
            "create",
            "reviewers",
            "--permission",
            "envs:read",
            "--permission",
            "envs:write",
            "--permission",
            "scan:run",
        ]);
        let github = crate::trust::github();
        env.ok(&[
            "trust",
            "add",
            "review-envs",
            "--issuer",
            &github.issuer,
            "--audience",
            crate::trust::AUD,
            "--claim",
            "repository=acme/shop",
            "--claim",
            "ref=refs/pull/*",
            "--group",
            "reviewers",
        ]);
        env.ok(&["policy", "set", "--envs-per-day", "5"]);
        let work = env.root().join("repo");
        std::fs::create_dir_all(work.join("k8s")).unwrap();
        std::fs::copy(
            repo().join("tests/fixtures/scan/manifests/defects.yaml"),
            work.join("k8s/deployment.yaml"),
        )
        .unwrap();
        let runner = RecipeRunner {
            env: &env,
            workflow,
            work: work.clone(),
            github: crate::trust::Runner::start(crate::trust::Job {
                repository: "acme/shop",
                git_ref: "refs/pull/42/merge",
                environment: None,
            }),
        };

        // First push: a new env, its outputs, the SARIF uploaded although the gate then fails.
        let first = runner.run("opened");
        let scripts: Vec<&str> = first.iter().map(|s| s.script.as_str()).collect();
        assert_eq!(
            first.len(),
            4,
            "{scripts:#?}\n{}",
            first.last().map(|s| s.out.transcript()).unwrap_or_default()
        );
        for step in &first[..3] {
            step.out.success();
        }
        assert_eq!(first[0].outputs["env_name"], "pr-42");
        let env_json: serde_json::Value =
            serde_json::from_str(&read(&work.join("env.json"))).unwrap();
        assert_eq!(env_json["status"], "ready");
        assert!(
            first[1].out.stdout.starts_with("kube API at "),
            "{}",
            first[1].out.transcript()
        );
        assert!(!first[1].out.stdout.contains("kube API at ,"));
        let gate = &first[3];
        gate.out.failure(3);
        assert!(
            gate.out
                .stdout
                .contains("::error file=k8s/deployment.yaml,line="),
            "{}",
            gate.out.transcript()
        );

        // Second push to the same PR: the same env and the same outputs, not "already exists".
        let second = runner.run("synchronize");
        second[0].out.success();
        let again: serde_json::Value = serde_json::from_str(&read(&work.join("env.json"))).unwrap();
        assert_eq!(again["id"], env_json["id"]);
        assert_eq!(second[0].outputs, first[0].outputs);

        // The PR closes: the env is destroyed.
        let closed = runner.run("closed");
        assert_eq!(closed.len(), 1);
        closed[0].out.success();

        // Reopened: the same name and key give a new env, not the destroyed one.
        let reopened = runner.run("reopened");
        reopened[0].out.success();
        let third: serde_json::Value = serde_json::from_str(&read(&work.join("env.json"))).unwrap();
        assert_eq!(third["status"], "ready");
        assert_ne!(third["id"], env_json["id"]);
    });
}

on_every_backend! {
    fn an_idempotency_key_whose_env_was_destroyed_names_a_new_env() {
        let env = crate::support::TestEnv::new();
        env.ok(&["policy", "set", "--envs-per-day", "3"]);
        let up = ["env", "up", "pr-9", "--template", "demo", "--idempotency-key", "pr-9", "-o", "json"];
        let first = env.ok(&up).json();
        // While it lives, the key gives it back (a re-run job, the PR's next push).
        assert_eq!(env.ok(&up).json()["id"], first["id"]);
        env.ok(&["env", "down", "pr-9", "--yes"]);
        // Once destroyed, the same name and key make a new env instead of returning the dead one.
        let next = env.ok(&up).json();
        assert_ne!(next["id"], first["id"]);
        assert_eq!(next["status"], "ready");
        assert_eq!(env.ok(&up).json()["id"], next["id"]);
        // A key stays bound to its name while its env lives.
        let other = env.run(&["env", "up", "pr-10", "--template", "demo", "--idempotency-key", "pr-9"]);
        other.failure(1);
        assert!(other.stderr.contains("idempotency key 'pr-9' was already used for environment 'pr-9'"), "{}", other.stderr);
    }
}
