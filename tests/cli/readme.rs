//! The README is executable documentation: every `sh` block runs as written, in order, in one
//! shell, from a copy of the repository's `examples/` on a fresh embedded platform, with this
//! build's `plat` first on `PATH`.
//!
//! A comment just above a block can say how it runs, and why:
//! - `<!-- readme-test: harness -- REASON -->`: the block talks to a team server, its database or
//!   its IdP. It runs against the harness's real ones: the README's example endpoints are
//!   rewritten to them (see [`Harness::rewrite`]), a `plat server` started in the foreground runs
//!   in the background until the README's end, and the device flow of `plat login` is approved
//!   at the test IdP as the README's bootstrap admin, as a person with a browser would.
//! - `<!-- readme-test: skip -- REASON -->`: the set-up commands themselves (CI runs them), and
//!   nothing else.

use std::path::Path;
use std::process::Command;

use crate::runners::{Answer, Recorded, RecordingServer};
use crate::services::{free_port, idp, postgres};
use crate::support::{BIN, TestEnv};

/// How a block runs, from its `readme-test:` comment.
#[derive(PartialEq)]
enum Mode {
    Plain,
    Harness,
    Skip,
}

/// One fenced `sh` block of the README: where it starts, how it runs and why.
struct Block {
    line: usize,
    code: String,
    mode: Mode,
    reason: String,
}

/// The README's bootstrap admin: the harness's IdP approves the device flow as this user.
const README_ADMIN: &str = "ops@example.com";

/// The real services behind the README's example endpoints.
struct Harness {
    issuer: String,
    database: String,
    team_port: u16,
    /// A Kubernetes API answering with recorded responses: no cluster can run here.
    kube: RecordingServer,
}

/// The recorded response of the Kubernetes API for a request path, from tests/fixtures/scan/kube.
fn recorded_kube_response(request: &Recorded) -> Answer {
    let path = request.path();
    let listing = |kind: &str| {
        path == format!("/api/v1/{kind}") || path == format!("/api/v1/namespaces/shop/{kind}")
    };
    let fixture = match path {
        "/api" => "api.json",
        "/api/v1" => "api_v1.json",
        "/apis" => "apis.json",
        "/apis/apps/v1" => "apis_apps_v1.json",
        "/api/v1/namespaces" => "namespaces.json",
        _ if listing("pods") && request.target.contains("continue=") => "pods_page2.json",
        _ if listing("pods") => "pods_page1.json",
        _ if listing("services") => "services.json",
        "/apis/apps/v1/deployments" | "/apis/apps/v1/namespaces/shop/deployments" => {
            "deployments.json"
        }
        _ if listing("secrets") => "forbidden.json",
        _ => return Answer::json(404, r#"{"kind":"Status","status":"Failure","code":404}"#),
    };
    let body = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/scan/kube")
            .join(fixture),
    )
    .expect("recorded response");
    Answer::json(
        if fixture == "forbidden.json" {
            403
        } else {
            200
        },
        body,
    )
}

impl Harness {
    fn start() -> Self {
        Self {
            issuer: idp().issuer.clone(),
            database: postgres().database(),
            team_port: free_port(),
            kube: RecordingServer::start(|request, _| recorded_kube_response(request)),
        }
    }

    /// A kubeconfig whose context `prod` (the README's) reaches the recorded API.
    fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: prod\n  cluster:\n    server: {}\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: me\nusers:\n- name: me\n  user:\n    token: recorded-token\n",
            self.kube.url("")
        )
    }

    /// The README's example endpoints, as the harness serves them.
    fn rewrite(&self, code: &str) -> String {
        let team = format!("127.0.0.1:{}", self.team_port);
        code.replace("https://sso.example.com/realms/eng", &self.issuer)
            .replace("postgres://plat@db/plat", &self.database)
            .replace("0.0.0.0:8080", &team)
            .replace("https://plat.example.com", &format!("http://{team}"))
    }

    /// Shell functions that stand in for the person at the keyboard: `plat server` (foreground)
    /// runs in the background once ready, and the device flow of `plat login` is approved at the
    /// IdP. Every server is stopped when the script ends.
    fn prelude(&self) -> String {
        format!(
            r#"
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
readme_approve() {{
  while IFS= read -r line; do
    printf '%s\n' "$line" >&2
    code=$(printf '%s\n' "$line" | sed -n 's/.*enter the code \([^ ]*\).*/\1/p')
    if [ -n "$code" ]; then
      curl -fsS -X POST '{issuer}/test/approve' -H 'Content-Type: application/json' \
        --data "{{\"user_code\":\"$code\",\"sub\":\"{subject}\",\"email\":\"{admin}\"}}" >/dev/null
    fi
  done
}}
plat() {{
  if [ "${{1:-}}" = server ] && [ "${{2#-}}" != "${{2:-}}" ]; then
    local listen=$PLAT_SERVER_LISTEN previous=
    for arg in "$@"; do [ "$previous" = --listen ] && listen=$arg; previous=$arg; done
    command plat "$@" &
    for _ in $(seq 300); do curl -fsS "http://$listen/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "plat server did not become ready on $listen" >&2; return 1
  elif [ "${{1:-}}" = login ] && ! printf '%s\n' "$@" | grep -qx -- --with-token; then
    command plat "$@" 2> >(readme_approve)
  else
    command plat "$@"
  fi
}}
"#,
            issuer = self.issuer,
            subject = README_ADMIN.split('@').next().unwrap_or(README_ADMIN),
            admin = README_ADMIN,
        )
    }
}

fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines().enumerate().peekable();
    let mut directive: Option<String> = None;
    while let Some((number, line)) = lines.next() {
        if let Some(rest) = line.trim().strip_prefix("<!-- readme-test:") {
            directive = Some(rest.trim_end_matches("-->").trim().to_owned());
            continue;
        }
        if line.trim() == "```sh" {
            let mut code = String::new();
            for (_, line) in lines.by_ref() {
                if line.trim() == "```" {
                    break;
                }
                code.push_str(line);
                code.push('\n');
            }
            let directive = directive.take().unwrap_or_default();
            let (mode, reason) = directive.split_once("--").unwrap_or((&directive, ""));
            let mode = match mode.trim() {
                "" => Mode::Plain,
                "harness" => Mode::Harness,
                "skip" => Mode::Skip,
                other => panic!(
                    "README.md:{}: unknown readme-test mode '{other}'",
                    number + 2
                ),
            };
            blocks.push(Block {
                line: number + 1,
                code,
                mode,
                reason: reason.trim().to_owned(),
            });
        } else if !line.trim().is_empty() {
            directive = None;
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_sh_block_of_the_readme_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 6, "found only {} sh blocks", blocks.len());
    for block in &blocks {
        if block.mode != Mode::Plain {
            assert!(
                block.reason.len() > 10,
                "README.md:{}: a block that is skipped or runs on the harness must say why",
                block.line
            );
        }
    }
    let skipped: Vec<usize> = blocks
        .iter()
        .filter(|b| b.mode == Mode::Skip)
        .map(|b| b.line)
        .collect();
    assert!(
        skipped.len() <= 2,
        "only the set-up commands and the release install may be skipped; skipped: {skipped:?}"
    );

    let env = TestEnv::new();
    let work = env.root().join("repo");
    copy_dir(&root.join("examples"), &work.join("examples"));
    // One script, so that `export` and files carry from block to block as in a reader's shell;
    // a marker before each block names the one that failed.
    let harness = Harness::start();
    let kube_dir = env.root().join("home/.kube");
    std::fs::create_dir_all(&kube_dir).unwrap();
    std::fs::write(kube_dir.join("config"), harness.kubeconfig()).unwrap();
    let mut script = String::from("set -e\n");
    script.push_str(&harness.prelude());
    let mut ran = 0;
    for block in blocks.iter().filter(|b| b.mode != Mode::Skip) {
        script.push_str(&format!("echo '>>> README.md:{}' >&2\n", block.line));
        match block.mode {
            Mode::Harness => script.push_str(&harness.rewrite(&block.code)),
            _ => script.push_str(&block.code),
        }
        ran += 1;
    }
    script.push_str("echo '>>> done' >&2\n");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), env.vars["PATH"]);
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(&script)
        .env_clear()
        .envs(&env.vars)
        .env("PATH", path)
        .env("PLAT_SERVER_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("PLAT_LOG", "warn");
    // `plat login` keeps its refresh token in the OS keyring: scripts/test.sh's private
    // gnome-keyring, never the user's.
    if let Ok(bus) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        command.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let output = command
        .current_dir(&work)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        stderr.push_str("\n(no D-Bus session: `plat login` finds no keyring; run scripts/test.sh)");
    }
    let failed_at = stderr
        .lines()
        .rfind(|l| l.starts_with(">>> "))
        .unwrap_or("(no block started)");
    assert!(
        output.status.success() && failed_at == ">>> done",
        "the README block at {} failed (exit {:?}); {ran} blocks ran\n--- stdout\n{}\n--- stderr\n{stderr}",
        failed_at.trim_start_matches(">>> "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
    );
    // The harness blocks really reached the harness: the login, and the signed webhook call.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let team = format!("http://127.0.0.1:{}", harness.team_port);
    assert!(
        stderr.contains(&format!("Logged in to {team} as {README_ADMIN}")),
        "the login block did not log in to the team server:\n{stderr}"
    );
    assert!(
        stdout.contains(r#""trigger":"webhook""#),
        "the webhook block queued no run:\n{stdout}"
    );
}
