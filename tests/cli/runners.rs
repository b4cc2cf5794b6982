//! Issue 7 runners (R-AUT-2): a container run as a Kubernetes Job, and a flow started by a
//! signed webhook. No Kubernetes API server can be installed here, so the Job runner talks to a
//! loopback server answering kube's exact requests with recorded API responses.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::TestEnv;

const KUBE_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/automation/kube"
);

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }
}

pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Send the body as one chunk and keep the response open this long, as a followed log is.
    pub hold: Option<Duration>,
}

impl Answer {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.into(),
            hold: None,
        }
    }

    pub fn text(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            content_type: "text/plain",
            body: body.into(),
            hold: None,
        }
    }
}

/// An HTTP/1.1 server on loopback that records every request, body included, and answers with
/// what `answer` says, given the request and how many earlier requests had the same method and
/// path. Each connection has its own thread: a followed log stays open while the status is polled.
pub struct RecordingServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl RecordingServer {
    pub fn start(answer: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::<Recorded>::new()));
        let answer = Arc::new(answer);
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, answer) = (log.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &log, answer.as_ref()));
            }
        });
        Self { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    log: &Mutex<Vec<Recorded>>,
    answer: &(dyn Fn(&Recorded, usize) -> Answer + Send + Sync),
) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or("/").to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let request = Recorded {
        method,
        target,
        headers,
        body,
    };
    let earlier = {
        let mut log = log.lock().unwrap();
        let earlier = log
            .iter()
            .filter(|r| r.method == request.method && r.path() == request.path())
            .count();
        log.push(request.clone());
        earlier
    };
    let reply = answer(&request, earlier);
    if let Some(hold) = reply.hold {
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n",
            reply.status,
            reply.content_type,
            reply.body.len(),
            reply.body
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.flush();
        std::thread::sleep(hold);
        let _ = stream.write_all(b"0\r\n\r\n");
        return;
    }
    let response = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.content_type,
        reply.body.len(),
        reply.body
    );
    let _ = stream.write_all(response.as_bytes());
}

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.root().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

// --- kubernetes-job -----------------------------------------------------------------------

/// A recorded response, for the Job this run created.
fn recorded(name: &str, job: &str) -> String {
    std::fs::read_to_string(format!("{KUBE_FIXTURES}/{name}"))
        .expect("recorded response")
        .replace("__JOB__", job)
}

/// The Job's name, from a request path under `.../jobs/NAME` or `.../pods/NAME-xxxxx`.
fn job_in(path: &str) -> String {
    let name = path.rsplit('/').find(|part| part.starts_with("plat-run-"));
    let name = name.unwrap_or_default();
    name.split('-').take(3).collect::<Vec<_>>().join("-")
}

#[derive(Clone, Copy)]
enum Cluster {
    /// Running for two status polls, then complete.
    Succeeds,
    /// Its pod fails: the Job reports BackoffLimitExceeded.
    Fails,
    /// Its pod never gets scheduled: only a cancel or a timeout ends it.
    NeverStarts,
    /// Its pod runs and logs, and never ends: only a cancel or a timeout ends it.
    RunsOn,
}

/// The API server of namespace `jobs`, answering the requests the runner makes.
fn api_server(cluster: Cluster) -> RecordingServer {
    RecordingServer::start(move |request, earlier| {
        let path = request.path();
        let jobs = "/apis/batch/v1/namespaces/jobs/jobs";
        let not_found = || {
            Answer::json(
                404,
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"not found","reason":"NotFound","code":404}"#,
            )
        };
        match request.method.as_str() {
            "POST" if path == jobs => {
                let job = request.json()["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                Answer::json(201, recorded("job_created.json", &job))
            }
            "GET" if path.starts_with(jobs) && path.ends_with("/status") => {
                let job = job_in(path);
                let fixture = match cluster {
                    Cluster::Succeeds if earlier >= 2 => "job_complete.json",
                    Cluster::Fails if earlier >= 2 => "job_failed.json",
                    _ => "job_active.json",
                };
                Answer::json(200, recorded(fixture, &job))
            }
            "DELETE" if path.starts_with(jobs) => {
                Answer::json(200, recorded("job_deleted.json", &job_in(path)))
            }
            "GET" if path == "/api/v1/namespaces/jobs/pods" => {
                let selector = request
                    .target
                    .split("labelSelector=")
                    .nth(1)
                    .unwrap_or_default();
                let job = selector
                    .trim_start_matches("job-name%3D")
                    .split('&')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let fixture = match cluster {
                    Cluster::NeverStarts => "pods_pending.json",
                    Cluster::Succeeds | Cluster::Fails | Cluster::RunsOn => "pods_running.json",
                };
                Answer::json(200, recorded(fixture, &job))
            }
            "GET"
                if path.starts_with("/api/v1/namespaces/jobs/pods/") && path.ends_with("/log") =>
            {
                let lines = "fetching https://prices.example/api\nfetched 3 prices\n";
                match cluster {
                    Cluster::Fails => Answer::text(
                        "fetching https://prices.example/api\nerror: upstream answered 502\n",
                    ),
                    Cluster::RunsOn => Answer {
                        hold: Some(Duration::from_secs(60)),
                        ..Answer::text(lines)
                    },
                    Cluster::Succeeds | Cluster::NeverStarts => {
                        Answer::text(format!("{lines}stored 3 rows\n"))
                    }
                }
            }
            _ => not_found(),
        }
    })
}

/// A kubeconfig whose current context points nowhere: the definition's `context` must be used.
fn kubeconfig(env: &TestEnv, api: &RecordingServer) {
    let dead = crate::services::free_port();
    let dir = env.root().join("home/.kube");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\nclusters:\n- name: elsewhere\n  cluster:\n    server: http://127.0.0.1:{dead}\n- name: recorded\n  cluster:\n    server: {}\ncontexts:\n- name: elsewhere\n  context:\n    cluster: elsewhere\n    user: me\n- name: recorded\n  context:\n    cluster: recorded\n    user: me\n    namespace: default\nusers:\n- name: me\n  user:\n    token: recorded-token\n",
            api.url("")
        ),
    )
    .unwrap();
}

fn job_definition(extra: &str) -> String {
    format!(
        r#"apiVersion: plat.dev/v1
kind: Automation
metadata: {{ name: collect-prices, description: Collect prices in the cluster }}
spec:
  parameters:
    - {{ name: source, default: "https://prices.example/api" }}
{extra}  runner:
    kubernetes-job:
      image: ghcr.io/acme/collect-prices:1.4.2
      command: [collect]
      args: [--source, "${{{{ parameters.source }}}}"]
      env: {{ LOG_LEVEL: info }}
      resources: {{ requests: {{ cpu: 100m, memory: 64Mi }}, limits: {{ memory: 128Mi }} }}
      namespace: jobs
      context: recorded
      ttl_after_finished: 10m
"#
    )
}

#[test]
fn a_kubernetes_job_runs_with_labels_and_limits_and_its_pod_log_becomes_the_run_log() {
    let env = TestEnv::new();
    let api = api_server(Cluster::Succeeds);
    kubeconfig(&env, &api);
    let file = write(&env, "job.yaml", &job_definition(""));
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.ok(&["automation", "run", "collect-prices", "-o", "json"]);
    let run = out.json();
    let id = run["id"].as_str().unwrap();
    assert_eq!(run["status"], "succeeded", "{}", out.transcript());
    let step = &run["steps"][0];
    assert_eq!(step["id"], "kubernetes-job");
    assert_eq!(step["action"], "kubernetes-job");
    let job = format!("plat-run-{id}");
    assert_eq!(step["output"]["job"], job.as_str());
    assert_eq!(step["output"]["namespace"], "jobs");
    assert_eq!(step["output"]["pod"], format!("{job}-x7k2p"));
    assert!(
        out.stderr
            .contains("[kubernetes-job] pod: fetched 3 prices"),
        "the pod's log is streamed: {}",
        out.stderr
    );

    // The Job as sent: what kube POSTed to the API server.
    let requests = api.requests();
    let created: Vec<&Recorded> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(created.len(), 1, "{requests:?}");
    assert_eq!(created[0].path(), "/apis/batch/v1/namespaces/jobs/jobs");
    assert_eq!(
        created[0].headers["authorization"], "Bearer recorded-token",
        "the definition's kubeconfig context is used, not the current one"
    );
    let sent = created[0].json();
    assert_eq!(sent["metadata"]["name"], job.as_str());
    let labels = &sent["metadata"]["labels"];
    assert_eq!(labels["appgear.io/run-id"], id);
    assert_eq!(labels["appgear.io/automation"], "collect-prices");
    assert_eq!(labels["appgear.io/account"], run["account"]);
    assert_eq!(labels["app.kubernetes.io/managed-by"], "plat");
    assert_eq!(
        sent["metadata"]["annotations"]["appgear.io/owner"],
        run["owner"]
    );
    assert_eq!(sent["spec"]["backoffLimit"], 0);
    assert_eq!(sent["spec"]["ttlSecondsAfterFinished"], 600);
    let pod = &sent["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"], *labels,
        "the pod is attributable too"
    );
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/acme/collect-prices:1.4.2");
    assert_eq!(container["command"], json!(["collect"]));
    assert_eq!(
        container["args"],
        json!(["--source", "https://prices.example/api"]),
        "parameters are rendered into the runner"
    );
    assert_eq!(
        container["env"],
        json!([{ "name": "LOG_LEVEL", "value": "info" }])
    );
    assert_eq!(container["resources"]["requests"]["cpu"], "100m");
    assert_eq!(container["resources"]["limits"]["memory"], "128Mi");

    // The pod was found by the label Kubernetes puts on a Job's pods, and its log followed.
    let listed = requests
        .iter()
        .find(|r| r.path() == "/api/v1/namespaces/jobs/pods")
        .expect("pods listed");
    assert!(
        listed
            .target
            .contains(&format!("labelSelector=job-name%3D{job}")),
        "{}",
        listed.target
    );
    let followed = requests
        .iter()
        .find(|r| r.path().ends_with("/log"))
        .expect("log read");
    assert!(
        followed.target.contains("follow=true"),
        "{}",
        followed.target
    );
    assert!(
        !requests.iter().any(|r| r.method == "DELETE"),
        "a finished Job is left to its TTL"
    );

    // R-AUT-5: the record keeps the pod's log.
    let logs = env.ok(&["automation", "logs", id]).stdout;
    assert!(
        logs.contains("[kubernetes-job] pod: stored 3 rows"),
        "{logs}"
    );
}

#[test]
fn a_failed_job_fails_the_run_with_the_reason_kubernetes_gives() {
    let env = TestEnv::new();
    let api = api_server(Cluster::Fails);
    kubeconfig(&env, &api);
    let file = write(&env, "job.yaml", &job_definition(""));
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.run(&["automation", "run", "collect-prices", "-o", "json"]);
    out.failure(1);
    let run = out.json();
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("BackoffLimitExceeded: Job has reached the specified backoff limit"),
        "{error}"
    );
    assert_eq!(run["steps"][0]["output"]["succeeded"], false);
    assert!(
        !api.requests().iter().any(|r| r.method == "DELETE"),
        "a failed Job is kept until its TTL, for its pod to be inspected"
    );
    let logs = env
        .ok(&["automation", "logs", run["id"].as_str().unwrap()])
        .stdout;
    assert!(logs.contains("pod: error: upstream answered 502"), "{logs}");
}

#[test]
fn a_running_jobs_log_is_recorded_as_it_comes_and_cancel_deletes_the_job() {
    let env = TestEnv::new();
    let api = api_server(Cluster::RunsOn);
    kubeconfig(&env, &api);
    let file = write(&env, "job.yaml", &job_definition(""));
    env.ok(&["automation", "apply", "-f", &file]);
    let started = Instant::now();
    let child = env
        .command(&["automation", "run", "collect-prices", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        assert!(Instant::now() < deadline, "the Job was never created");
        std::thread::sleep(Duration::from_millis(100));
        let runs = env.ok(&["automation", "runs", "-o", "json"]).json();
        if let Some(id) = runs[0]["id"].as_str() {
            break id.to_owned();
        }
    };
    // Another terminal sees the pod's log while the Job still runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = env.ok(&["automation", "logs", &id]).stdout;
        if logs.contains("[kubernetes-job] pod: fetched 3 prices") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pod's log never reached the record: {logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    env.ok(&["automation", "cancel", &id]);
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "cancel did not wait for the log to end"
    );
    assert_eq!(output.status.code(), Some(1));
    let run: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["status"], "cancelled");

    let deleted: Vec<Recorded> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deleted.len(), 1, "{:?}", api.requests());
    assert_eq!(
        deleted[0].path(),
        format!("/apis/batch/v1/namespaces/jobs/jobs/plat-run-{id}")
    );
    assert_eq!(deleted[0].json()["propagationPolicy"], "Background");
    let logs = env.ok(&["automation", "logs", &id]).stdout;
    assert!(
        logs.contains(&format!("deleted Job plat-run-{id}")),
        "{logs}"
    );
}

#[test]
fn a_job_over_the_run_timeout_is_deleted_too() {
    let env = TestEnv::new();
    let api = api_server(Cluster::NeverStarts);
    kubeconfig(&env, &api);
    let file = write(&env, "job.yaml", &job_definition("  timeout: 2s\n"));
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.run(&["automation", "run", "collect-prices", "-o", "json"]);
    out.failure(1);
    assert_eq!(
        out.json()["steps"][0]["error"],
        "the run timed out after 2s"
    );
    let deleted = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deleted, 1);
}

#[test]
fn runner_settings_are_checked_at_apply_with_their_line() {
    let env = TestEnv::new();
    env.ok(&["whoami"]);
    for (name, text, line, says) in [
        (
            "resources.yaml",
            job_definition("").replace("requests: {", "wants: {"),
            13,
            "unknown resources key 'wants'",
        ),
        (
            "param.yaml",
            job_definition("").replace("parameters.source", "parameters.origin"),
            11,
            "reads parameter 'origin', which is not declared",
        ),
        (
            "ttl.yaml",
            job_definition("").replace("ttl_after_finished: 10m", "ttl_after_finished: soon"),
            16,
            "invalid ttl_after_finished",
        ),
        (
            "secret.yaml",
            "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: flow }\nspec:\n  runner:\n    webhook:\n      url: https://n8n.example/webhook/x\n      secret_env: \"not a name\"\n".into(),
            8,
            "invalid secret_env",
        ),
    ] {
        let file = write(&env, name, &text);
        let out = env.refused(None, &["automation", "apply", "-f", &file], 1);
        let location = format!("error: {file}:{line}: ");
        assert!(out.stderr.starts_with(&location), "{name}: expected {location}\n{}", out.stderr);
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
    }
}

// --- webhook ---------------------------------------------------------------------------------

const SECRET: &str = "n8n-shared-secret";

/// An n8n webhook that checks the signature like a flow's first node would: 503 once (a
/// restart), then 401 for a bad signature, else 200 with the execution it started.
fn flow() -> RecordingServer {
    RecordingServer::start(|request, earlier| {
        if earlier == 0 {
            return Answer::json(503, r#"{"message":"n8n is starting up"}"#);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(request.body.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let given = request
            .headers
            .get("x-plat-signature-256")
            .cloned()
            .unwrap_or_default();
        if given != format!("sha256={expected}") {
            return Answer::json(401, r#"{"message":"signature mismatch"}"#);
        }
        match request.path() {
            "/webhook/prices" => Answer::json(200, r#"{"executionId":"4711","status":"started"}"#),
            _ => Answer::json(
                422,
                r#"{"message":"Workflow could not be started: parameter 'source' is not a URL"}"#,
            ),
        }
    })
}

fn webhook_definition(url: &str) -> String {
    format!(
        "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: {{ name: prices-flow }}\nspec:\n  parameters:\n    - {{ name: source, default: https://prices.example/api }}\n  runner:\n    webhook: {{ url: \"{url}\", secret_env: N8N_SECRET, retries: 2, backoff: 50ms }}\n"
    )
}

#[test]
fn a_webhook_runner_posts_the_run_signed_and_retries_a_restarting_flow() {
    let env = TestEnv::new();
    let n8n = flow();
    let file = write(
        &env,
        "flow.yaml",
        &webhook_definition(&n8n.url("/webhook/prices")),
    );
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.run_with(
        &[
            "automation",
            "run",
            "prices-flow",
            "-p",
            "source=https://other.example",
            "-o",
            "json",
        ],
        &[("N8N_SECRET", SECRET)],
    );
    out.success();
    let run = out.json();
    let step = &run["steps"][0];
    assert_eq!(step["id"], "webhook");
    assert_eq!(step["attempts"], 2, "one 503, then accepted: {run}");
    assert_eq!(step["output"]["status"], 200);
    assert_eq!(
        step["output"]["body"]["executionId"], "4711",
        "a JSON answer is parsed"
    );

    let requests = n8n.requests();
    assert_eq!(requests.len(), 2);
    let sent = requests[1].json();
    assert_eq!(sent["run_id"], run["id"]);
    assert_eq!(sent["automation"], "prices-flow");
    assert_eq!(sent["account"], run["account"]);
    assert_eq!(sent["owner"], run["owner"]);
    assert_eq!(sent["params"], json!({ "source": "https://other.example" }));
    assert_eq!(requests[1].headers["content-type"], "application/json");
    assert_eq!(
        requests[1].headers["x-plat-run-id"],
        run["id"].as_str().unwrap()
    );
    assert_eq!(
        requests[0].body, requests[1].body,
        "a retry sends the same body"
    );
}

#[test]
fn a_refusing_flow_fails_the_run_with_its_status_and_answer() {
    let env = TestEnv::new();
    let n8n = flow();
    let file = write(
        &env,
        "flow.yaml",
        &webhook_definition(&n8n.url("/webhook/strict")),
    );
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.run_with(
        &["automation", "run", "prices-flow", "-o", "json"],
        &[("N8N_SECRET", SECRET)],
    );
    out.failure(1);
    let run = out.json();
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("answered 422"), "{error}");
    assert!(error.contains("parameter 'source' is not a URL"), "{error}");
    assert_eq!(run["steps"][0]["output"]["status"], 422);
    assert_eq!(n8n.requests().len(), 2, "a 4xx is not retried");

    // A wrong secret is refused by the flow; a missing one is not sent at all.
    let out = env.run_with(
        &["automation", "run", "prices-flow", "-o", "json"],
        &[("N8N_SECRET", "guess")],
    );
    out.failure(1);
    assert!(
        out.json()["error"]
            .as_str()
            .unwrap()
            .contains("answered 401")
    );
    let before = n8n.requests().len();
    let out = env.run(&["automation", "run", "prices-flow", "-o", "json"]);
    out.failure(1);
    assert!(
        out.json()["error"]
            .as_str()
            .unwrap()
            .contains("$N8N_SECRET, which is not set"),
        "{}",
        out.stdout
    );
    assert_eq!(n8n.requests().len(), before);
}
