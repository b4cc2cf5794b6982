//! `publish:github` and `catalog:register` against a loopback HTTP server.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// GitLab's `PRIVATE-TOKEN` header.
    pub private_token: Option<String>,
    pub body: Value,
}

pub(super) type Routes = Arc<dyn Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync>;

pub(super) struct FakeServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    /// `METHOD path` of every request so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

pub(super) async fn serve(routes: Routes) -> FakeServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let routes = Arc::clone(&routes);
            let recorded = Arc::clone(&recorded);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0_u8; 4096];
                let header_end = loop {
                    let read = socket.read(&mut chunk).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
                let mut lines = head.lines();
                let mut request_line = lines.next().unwrap_or_default().split(' ');
                let method = request_line.next().unwrap_or_default().to_owned();
                let path = request_line.next().unwrap_or_default().to_owned();
                let header = |name: &str| {
                    head.lines().find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case(name)
                            .then(|| value.trim().to_owned())
                    })
                };
                let length: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buffer.len() < header_end + length {
                    let read = socket.read(&mut chunk).await.unwrap_or(0);
                    if read == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                }
                let body: Value =
                    serde_json::from_slice(&buffer[header_end..]).unwrap_or(Value::Null);
                let (status, answer) = routes(&method, &path, &body);
                recorded.lock().unwrap().push(Recorded {
                    method,
                    path,
                    authorization: header("authorization"),
                    private_token: header("private-token"),
                    body,
                });
                let answer = answer.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    FakeServer { url, requests }
}

const GITHUB_STEPS: &str = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n    - id: publish\n      action: publish:github\n      input:\n        repoUrl: github.com?owner=acme&repo=${{ parameters.name }}\n        description: The ${{ parameters.name }} service\n        repoVisibility: internal\n        defaultBranch: main\n        topics: [rust, service]\n    - id: register\n      action: catalog:register\n      input:\n        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}\n        catalogInfoPath: /catalog-info.yaml\n";

fn github_template() -> (tempfile::TempDir, LoadedTemplate) {
    let yaml = format!(
        "{}  output:\n    links:\n      - title: Repository\n        url: ${{{{ steps.publish.output.remoteUrl }}}}\n      - title: Catalog\n        entityRef: ${{{{ steps.register.output.entityRef }}}}\n",
        template_yaml(GITHUB_STEPS)
    );
    template_from(&[
        ("template.yaml", &yaml),
        (
            "skeleton/catalog-info.yaml",
            "metadata:\n  name: ${{ values.name }}\n",
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_github_creates_the_repository_pushes_and_registers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (bare, bare_url) = bare_repo();
    let clone_url = bare_url.clone();
    let server = serve(Arc::new(
        move |method: &str, path: &str, _body: &Value| match (method, path) {
            ("GET", "/users/acme") => (200, json!({"login": "acme", "type": "Organization"})),
            ("POST", "/orgs/acme/repos") => (
                201,
                json!({"clone_url": clone_url, "html_url": "https://github.com/acme/demo"}),
            ),
            ("PUT", "/repos/acme/demo/topics") => (200, json!({"names": ["rust", "service"]})),
            ("POST", "/api/catalog/locations") => (
                201,
                json!({"location": {}, "entities": [
                    {"kind": "Location", "metadata": {"name": "generated"}},
                    {"kind": "Component", "metadata": {"name": "demo", "namespace": "default"}}
                ]}),
            ),
            _ => (404, json!({"message": "Not Found"})),
        },
    ))
    .await;
    let (_dir, template) = github_template();
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        integrations: Integrations {
            github_token: Some("gh-token".into()),
            github_api_url: server.url.clone(),
            backstage_url: Some(server.url.clone()),
            backstage_token: Some("bs-token".into()),
            ..Integrations::default()
        },
        ..RunOptions::default()
    };
    let result = run(
        &Engine::new(),
        &template,
        out.path(),
        &resolved(&template, &[]),
        &options,
    )
    .await
    .unwrap();

    let requests = server.requests.lock().unwrap().clone();
    let calls: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /users/acme",
            "POST /orgs/acme/repos",
            "PUT /repos/acme/demo/topics",
            "POST /api/catalog/locations"
        ]
    );
    assert_eq!(
        requests[1].authorization.as_deref(),
        Some("Bearer gh-token")
    );
    assert_eq!(
        requests[1].body,
        json!({"name": "demo", "private": true, "visibility": "internal", "description": "The demo service"})
    );
    assert_eq!(requests[2].body, json!({"names": ["rust", "service"]}));
    assert_eq!(
        requests[3].authorization.as_deref(),
        Some("Bearer bs-token")
    );
    assert_eq!(
        requests[3].body,
        json!({"type": "url", "target": "https://github.com/acme/demo/blob/main/catalog-info.yaml"})
    );

    let publish = &result.steps[1].output;
    assert_eq!(publish["remoteUrl"], bare_url.as_str());
    assert_eq!(
        publish["repoContentsUrl"],
        "https://github.com/acme/demo/blob/main"
    );
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    let head = repo
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(publish["commitHash"], head.id().to_string().as_str());
    assert_eq!(
        result.steps[2].output["entityRef"],
        "component:default/demo"
    );
    assert_eq!(result.output.links()[0]["url"], bare_url.as_str());
    assert_eq!(
        result.output.links()[1]["entityRef"],
        "component:default/demo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_errors_are_reported_and_nothing_is_written() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = serve(Arc::new(|method: &str, path: &str, _body: &Value| {
        match (method, path) {
            ("GET", "/users/acme") => (200, json!({"type": "User"})),
            _ => (
                422,
                json!({"message": "name already exists on this account"}),
            ),
        }
    }))
    .await;
    let (_dir, template) = github_template();
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("p");
    let options = RunOptions {
        integrations: Integrations {
            github_token: Some("t".into()),
            github_api_url: server.url.clone(),
            ..Integrations::default()
        },
        ..RunOptions::default()
    };
    let err = run(
        &Engine::new(),
        &template,
        &target,
        &resolved(&template, &[]),
        &options,
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("step `publish`"), "{message}");
    let calls: Vec<String> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        ["GET /users/acme", "POST /user/repos"],
        "a user account uses /user/repos"
    );
    assert!(!target.exists());
}

#[tokio::test]
async fn dry_run_describes_remote_steps_without_calling_them() {
    let (_dir, template) = github_template();
    let parent = tempfile::tempdir().unwrap();
    let options = RunOptions {
        dry_run: true,
        integrations: Integrations {
            github_api_url: "http://127.0.0.1:9".into(),
            backstage_url: Some("http://127.0.0.1:9".into()),
            ..Integrations::default()
        },
        ..RunOptions::default()
    };
    let result = run(
        &Engine::new(),
        &template,
        &parent.path().join("p"),
        &resolved(&template, &[]),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(result.steps[1].status, StepStatus::Simulated);
    assert!(result.steps[1].log[0].contains("would create the internal repository acme/demo"));
    assert_eq!(result.steps[2].status, StepStatus::Simulated);
    assert!(result.steps[2].log[0].contains("would POST"));
    assert!(
        result.steps[2].log[0].contains("https://github.com/acme/demo/blob/main/catalog-info.yaml")
    );
    assert_eq!(result.files, [".plat-answers.yml", "catalog-info.yaml"]);
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}
