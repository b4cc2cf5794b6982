//! `plat scaffold run` publishing for real, with no real forge: a loopback server (axum) answers
//! the documented GitHub and GitLab REST calls in their recorded shapes and records what it was
//! sent; the clone URLs it hands out are local bare repositories, which git2 pushes to.
//! Tokens and API bases come from the environment, as for a user (GITHUB_TOKEN, GITHUB_API_URL,
//! GITLAB_TOKEN, GITLAB_API_URL).

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::{path_str, template_yaml, write_template};
use crate::support::{Outcome, TestEnv};

#[derive(Debug, Clone)]
struct Request {
    call: String,
    authorization: Option<String>,
    private_token: Option<String>,
    body: Value,
}

type Answer = Arc<dyn Fn(&str, &str) -> (u16, Value) + Send + Sync>;

#[derive(Clone)]
struct Forge {
    answer: Answer,
    requests: Arc<Mutex<Vec<Request>>>,
}

/// A forge on loopback; `answer(method, path_and_query)` gives each reply.
struct FakeForge {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeForge {
    fn start(answer: impl Fn(&str, &str) -> (u16, Value) + Send + Sync + 'static) -> FakeForge {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let forge = Forge {
            answer: Arc::new(answer),
            requests: Arc::default(),
        };
        let requests = Arc::clone(&forge.requests);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(reply).with_state(forge);
                let _ = axum::serve(listener, app).await;
            });
        });
        FakeForge { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn calls(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.call).collect()
    }
}

async fn reply(
    State(forge): State<Forge>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    forge.requests.lock().unwrap().push(Request {
        call: format!("{method} {path}"),
        authorization: header("authorization"),
        private_token: header("private-token"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let (status, answer) = (forge.answer)(method.as_str(), &path);
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
}

/// A bare repository whose `main` has one commit holding `README.md`.
fn bare_with_main(path: &Path) -> git2::Repository {
    let repo = git2::Repository::init_bare(path).unwrap();
    {
        let blob = repo.blob(b"existing\n").unwrap();
        let mut builder = repo.treebuilder(None).unwrap();
        builder.insert("README.md", blob, 0o100644).unwrap();
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let signature = git2::Signature::now("Owner", "owner@example.com").unwrap();
        repo.commit(
            Some("refs/heads/main"),
            &signature,
            &signature,
            "start",
            &tree,
            &[],
        )
        .unwrap();
    }
    repo
}

fn file_on(repo: &git2::Repository, branch: &str, path: &str) -> Option<String> {
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
    let blob = entry.to_object(repo).ok()?.peel_to_blob().ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

const PICKER: &str = "    required: [name, repoUrl]\n    properties:\n      name:\n        type: string\n      repoUrl:\n        type: string\n        ui:field: RepoUrlPicker\n        ui:options:\n          allowedHosts: [gitlab.example.com, github.com]\n";

/// fetch:template, then `step`, then output links to what `step` gave.
fn publishing_template(env: &TestEnv, step: &str, links: &str) -> std::path::PathBuf {
    let dir = env.root().join("template");
    let fetch = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n";
    let yaml = format!(
        "{}  output:\n    links:\n{links}",
        template_yaml(PICKER, &format!("{fetch}{step}"))
    );
    write_template(
        &dir,
        &[
            ("template.yaml", &yaml),
            ("skeleton/service.yaml", "name: ${{ values.name }}\n"),
        ],
    );
    dir
}

fn scaffold(
    env: &TestEnv,
    template: &Path,
    target: &Path,
    repo_url: &str,
    vars: &[(&str, &str)],
) -> Outcome {
    let repo_url = format!("repoUrl={repo_url}");
    let mut command = env.command(&[
        "scaffold",
        "run",
        path_str(template),
        path_str(target),
        "--set",
        "name=demo",
        "--set",
        &repo_url,
        "-o",
        "json",
    ]);
    command
        .env("GIT_AUTHOR_NAME", "Ana Lima")
        .env("GIT_AUTHOR_EMAIL", "ana@example.com")
        .envs(vars.iter().copied());
    command.output().expect("run plat").into()
}

const GITLAB_STEP: &str = "    - id: publish\n      name: Publish\n      action: publish:gitlab\n      input:\n        repoUrl: ${{ parameters.repoUrl }}\n        defaultBranch: main\n        gitCommitMessage: scaffold ${{ parameters.name }}\n";
const GITLAB_LINKS: &str = "      - title: Repository\n        url: ${{ steps.publish.output.remoteUrl }}\n      - title: Contents\n        url: ${{ steps.publish.output.repoContentsUrl }}\n";

#[test]
fn publish_gitlab_creates_the_project_pushes_it_and_links_it_in_the_output() {
    let env = TestEnv::new();
    let bare_path = env.root().join("remotes/demo.git");
    let bare = git2::Repository::init_bare(&bare_path).unwrap();
    let clone_url = format!("file://{}", bare_path.display());
    let answer_url = clone_url.clone();
    let forge = FakeForge::start(move |method, path| match (method, path) {
        ("GET", "/api/v4/namespaces/acme") => {
            (200, json!({"id": 42, "kind": "group", "full_path": "acme"}))
        }
        ("POST", "/api/v4/projects") => (
            201,
            json!({"id": 99, "http_url_to_repo": answer_url, "web_url": "https://gitlab.example.com/acme/demo"}),
        ),
        _ => (404, json!({"message": "404 Not Found"})),
    });
    let template = publishing_template(&env, GITLAB_STEP, GITLAB_LINKS);
    let target = env.root().join("demo");
    let api = format!("{}/api/v4", forge.url);
    let out = scaffold(
        &env,
        &template,
        &target,
        "gitlab.example.com?owner=acme&repo=demo",
        &[("GITLAB_TOKEN", "gl-token"), ("GITLAB_API_URL", &api)],
    );
    out.success();

    assert_eq!(
        forge.calls(),
        ["GET /api/v4/namespaces/acme", "POST /api/v4/projects"]
    );
    let requests = forge.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.private_token.as_deref() == Some("gl-token"))
    );
    assert_eq!(
        requests[1].body,
        json!({"namespace_id": 42, "name": "demo", "visibility": "private"})
    );
    assert_eq!(
        file_on(&bare, "main", "service.yaml").as_deref(),
        Some("name: demo\n")
    );
    let head = bare
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(head.message().ok(), Some("scaffold demo"));
    assert_eq!(head.author().email().ok(), Some("ana@example.com"));

    let json = out.json();
    let remote = clone_url.trim_end_matches(".git");
    assert_eq!(
        json["steps"][1]["output"],
        json!({
            "remoteUrl": remote, "repoContentsUrl": format!("{remote}/-/blob/main"),
            "commitHash": head.id().to_string(), "projectId": 99, "created": true
        })
    );
    assert_eq!(json["output"]["links"][0]["url"], remote);
    assert_eq!(
        json["output"]["links"][1]["url"],
        format!("{remote}/-/blob/main")
    );
    assert_eq!(
        super::read(target.join("service.yaml")),
        "name: demo\n",
        "the project is written too"
    );
}

#[test]
fn publish_gitlab_without_a_token_exits_1_pointing_at_no_git_and_nothing_is_written_or_called() {
    let env = TestEnv::new();
    let forge = FakeForge::start(|_, _| (500, json!({})));
    let template = publishing_template(&env, GITLAB_STEP, GITLAB_LINKS);
    let target = env.root().join("demo");
    let api = format!("{}/api/v4", forge.url);
    let mut command = env.command(&[
        "scaffold",
        "run",
        path_str(&template),
        path_str(&target),
        "--set",
        "name=demo",
        "--set",
        "repoUrl=gitlab.example.com?owner=acme&repo=demo",
    ]);
    command
        .env("GITLAB_API_URL", &api)
        .env_remove("GITLAB_TOKEN");
    let out: Outcome = command.output().expect("run plat").into();
    out.failure(1);
    assert!(
        out.stderr
            .contains("publish:gitlab needs a token: GITLAB_TOKEN is not set"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--no-git"), "{}", out.stderr);
    assert!(!target.exists());
    assert!(forge.calls().is_empty());
}

#[test]
fn a_host_outside_allowed_hosts_exits_1_and_nothing_is_written_or_called() {
    let env = TestEnv::new();
    let forge = FakeForge::start(|_, _| (500, json!({})));
    let template = publishing_template(&env, GITLAB_STEP, GITLAB_LINKS);
    let target = env.root().join("demo");
    let api = format!("{}/api/v4", forge.url);
    let out = scaffold(
        &env,
        &template,
        &target,
        "gitlab.evil.example?owner=acme&repo=demo",
        &[("GITLAB_TOKEN", "gl-token"), ("GITLAB_API_URL", &api)],
    );
    out.failure(1);
    assert!(
        out.stderr.contains(
            "host `gitlab.evil.example` is not among the template's allowedHosts (github.com, gitlab.example.com)"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("step `publish`"), "{}", out.stderr);
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(env.root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("demo"))
            .count(),
        0,
        "no work directory is left behind"
    );
    assert!(forge.calls().is_empty());
}

const PR_STEP: &str = "    - id: pr\n      name: Open the pull request\n      action: publish:github:pull-request\n      input:\n        repoUrl: ${{ parameters.repoUrl }}\n        branchName: add-${{ parameters.name }}\n        title: Add ${{ parameters.name }}\n        description: Adds ${{ parameters.name }}\n        targetPath: services/${{ parameters.name }}\n";
const PR_LINKS: &str =
    "      - title: Pull request\n        url: ${{ steps.pr.output.remoteUrl }}\n";

#[test]
fn publish_github_pull_request_opens_the_request_and_an_api_error_names_the_action_and_step() {
    let env = TestEnv::new();
    let bare_path = env.root().join("remotes/shop.git");
    let bare = bare_with_main(&bare_path);
    let bare_path2 = env.root().join("remotes/shop2.git");
    bare_with_main(&bare_path2);
    // The first run finds shop.git and opens #12; the second finds shop2.git and is told that
    // the pull request exists already.
    let clone_urls =
        [bare_path.clone(), bare_path2.clone()].map(|p| format!("file://{}", p.display()));
    let runs = Arc::new(Mutex::new(0_usize));
    let forge = FakeForge::start(move |method, path| {
        let mut runs = runs.lock().unwrap();
        match (method, path) {
            ("GET", "/repos/acme/shop") => {
                *runs += 1;
                (
                    200,
                    json!({"clone_url": clone_urls[(*runs - 1).min(1)], "default_branch": "main", "html_url": "https://github.com/acme/shop"}),
                )
            }
            ("POST", "/repos/acme/shop/pulls") if *runs == 1 => (
                201,
                json!({"number": 12, "html_url": "https://github.com/acme/shop/pull/12"}),
            ),
            ("POST", "/repos/acme/shop/pulls") => (
                422,
                json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:add-demo."}]}),
            ),
            _ => (404, json!({"message": "Not Found"})),
        }
    });
    let template = publishing_template(&env, PR_STEP, PR_LINKS);
    let vars = [
        ("GITHUB_TOKEN", "gh-token"),
        ("GITHUB_API_URL", forge.url.as_str()),
    ];
    let target = env.root().join("demo");
    let out = scaffold(
        &env,
        &template,
        &target,
        "github.com?owner=acme&repo=shop",
        &vars,
    );
    out.success();
    let json = out.json();
    assert_eq!(
        json["steps"][1]["output"],
        json!({"targetBranchName": "main", "remoteUrl": "https://github.com/acme/shop/pull/12", "pullRequestNumber": 12})
    );
    assert_eq!(
        json["output"]["links"][0]["url"],
        "https://github.com/acme/shop/pull/12"
    );
    let requests = forge.requests();
    assert_eq!(
        forge.calls(),
        ["GET /repos/acme/shop", "POST /repos/acme/shop/pulls"]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer gh-token"))
    );
    assert_eq!(
        requests[1].body,
        json!({"title": "Add demo", "body": "Adds demo", "head": "add-demo", "base": "main", "draft": false})
    );
    assert_eq!(
        file_on(&bare, "add-demo", "services/demo/service.yaml").as_deref(),
        Some("name: demo\n")
    );
    assert_eq!(
        file_on(&bare, "add-demo", "README.md").as_deref(),
        Some("existing\n")
    );

    // The same request again: GitHub answers 422, and plat says which step and action failed.
    let target2 = env.root().join("demo2");
    let out = scaffold(
        &env,
        &template,
        &target2,
        "github.com?owner=acme&repo=shop",
        &vars,
    );
    out.failure(1);
    for part in [
        "step `pr` failed",
        "publish:github:pull-request",
        "422 Unprocessable Entity",
        "A pull request already exists for acme:add-demo.",
    ] {
        assert!(out.stderr.contains(part), "{part}:\n{}", out.stderr);
    }
    assert!(!target2.exists());
}
