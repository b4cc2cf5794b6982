//! DOMAIN.md section 3 and issue 7: automations defined in YAML, run in this process against a
//! real HTTP server started by the test, recorded by the platform on every backend.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::support::{ALICE, TestEnv};

/// The issue's example, byte for byte.
const EXAMPLE: &str = r#"apiVersion: plat.dev/v1
kind: Automation
metadata: { name: collect-prices, description: Collect prices and store them }
spec:
  parameters:
    - { name: source, type: string, default: "http://127.0.0.1:8000/prices.json" }
  trigger: { schedule: { cron: "*/5 * * * *", timezone: UTC } }
  steps:
    - id: fetch
      action: http
      input: { method: GET, url: "${{ parameters.source }}", retries: 2 }
    - id: store
      action: exec
      input: { command: ["sh", "-c", "echo stored ${{ steps.fetch.output.status }}"] }
"#;

/// A tiny HTTP/1.1 server on loopback: answers every request with what `answer` says for the
/// n-th request (0-based), and counts them.
struct HttpServer {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl HttpServer {
    fn start(answer: impl Fn(usize, &str) -> (u16, String) + Send + 'static) -> HttpServer {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), answer)
    }

    fn on(
        listener: TcpListener,
        answer: impl Fn(usize, &str) -> (u16, String) + Send + 'static,
    ) -> HttpServer {
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
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
                let text = String::from_utf8_lossy(&request).into_owned();
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = answer(n, &path);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        HttpServer { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn prices(_: usize, path: &str) -> (u16, String) {
    if path == "/prices.json" {
        (200, r#"{"apple": 3, "pear": 5}"#.into())
    } else {
        (404, r#"{"error": "not found"}"#.into())
    }
}

/// The service the issue's example calls: on 127.0.0.1:8000 when that port is free, so that the
/// example runs exactly as written; shared by every test of this process.
fn price_service() -> &'static (HttpServer, bool) {
    static SERVER: OnceLock<(HttpServer, bool)> = OnceLock::new();
    SERVER.get_or_init(|| match TcpListener::bind("127.0.0.1:8000") {
        Ok(listener) => (HttpServer::on(listener, prices), true),
        Err(_) => (HttpServer::start(prices), false),
    })
}

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.root().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A definition of one automation `name` with the given steps (YAML lines under `steps:`).
fn definition(name: &str, extra_spec: &str, steps: &str) -> String {
    format!(
        "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: {{ name: {name} }}\nspec:\n{extra_spec}  steps:\n{steps}"
    )
}

on_every_backend! {
    fn the_issue_example_applies_runs_and_passes_the_http_status_into_exec() {
        let env = TestEnv::new();
        let (service, on_8000) = price_service();
        let file = write(&env, "automation.yaml", EXAMPLE);
        let applied = env.ok(&["automation", "apply", "-f", &file, "-o", "json"]);
        assert!(applied.stderr.contains("Created automation collect-prices"), "{}", applied.stderr);
        assert_eq!(applied.json()["trigger"], "schedule */5 * * * * UTC");

        let source = service.url("/prices.json");
        let given = format!("source={source}");
        // As written when the default port is ours; otherwise the same run, pointed at our port.
        let args = if *on_8000 {
            vec!["automation", "run", "collect-prices", "-o", "json"]
        } else {
            vec!["automation", "run", "collect-prices", "--param", &given, "--wait", "-o", "json"]
        };
        let out = env.ok(&args);
        let run = out.json();
        assert_eq!(run["status"], "succeeded", "{}", out.transcript());
        assert_eq!(run["params"]["source"], source);
        assert_eq!(run["steps"][0]["output"]["status"], 200);
        assert_eq!(run["steps"][0]["output"]["body"]["pear"], 5, "JSON bodies are parsed");
        assert_eq!(run["steps"][1]["output"]["stdout"], "stored 200\n");
        assert_eq!(run["steps"][1]["output"]["exit_code"], 0);
        assert!(run["started_at"].is_string() && run["finished_at"].is_string());
        assert!(out.stderr.contains("Step fetch (http)"), "progress on stderr: {}", out.stderr);

        // The record (R-AUT-5): listed, shown, with its log.
        let id = run["id"].as_str().unwrap();
        let runs = env.ok(&["automation", "runs", "collect-prices", "-o", "json"]).json();
        assert_eq!(runs[0]["id"], id);
        assert_eq!(runs[0]["status"], "succeeded");
        let logs = env.ok(&["automation", "logs", id]);
        assert!(logs.stdout.contains("[store] stdout: stored 200"), "{}", logs.stdout);
        let follow = env.ok(&["automation", "logs", id, "-f"]);
        assert_eq!(follow.stdout, logs.stdout, "a finished run's log is printed once");

        // Re-applying updates in place.
        let again = env.ok(&["automation", "apply", "-f", &file]);
        assert!(again.stderr.contains("Updated automation collect-prices"), "{}", again.stderr);
        assert_eq!(env.ok(&["automation", "list", "-o", "json"]).json().as_array().unwrap().len(), 1);
    }

    fn http_steps_retry_5xx_with_backoff_and_a_failed_step_stops_the_rest() {
        let env = TestEnv::new();
        let flaky = HttpServer::start(|n, _| if n < 2 { (500, "{}".into()) } else { (200, r#"{"ok": true}"#.into()) });
        let steps = format!(
            "    - id: fetch\n      action: http\n      input: {{ url: \"{}\", retries: 3, backoff: 50ms }}\n",
            flaky.url("/x")
        );
        let file = write(&env, "flaky.yaml", &definition("flaky", "", &steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let run = env.ok(&["automation", "run", "flaky", "-o", "json"]).json();
        assert_eq!(run["status"], "succeeded");
        assert_eq!(run["steps"][0]["attempts"], 3, "two 500s, then 200: {run}");
        assert_eq!(flaky.hits.load(Ordering::SeqCst), 3);

        // Retries run out: the step fails, the run fails (exit 1), later steps never run.
        let down = HttpServer::start(|_, _| (503, "{}".into()));
        let marker = env.root().join("never");
        let steps = format!(
            "    - id: fetch\n      action: http\n      input: {{ url: \"{}\", retries: 1, backoff: 10ms }}\n    - id: after\n      action: exec\n      input: {{ command: [touch, \"{}\"] }}\n",
            down.url("/"),
            marker.display()
        );
        let file = write(&env, "down.yaml", &definition("down", "", &steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let out = env.run(&["automation", "run", "down", "-o", "json"]);
        out.failure(1);
        let run = out.json();
        assert_eq!(run["status"], "failed");
        assert_eq!(run["steps"][0]["status"], "failed");
        assert_eq!(run["steps"][0]["attempts"], 2);
        assert_eq!(run["steps"][0]["output"]["status"], 503);
        assert_eq!(run["steps"][1]["status"], "skipped");
        assert!(run["error"].as_str().unwrap().contains("answered 503"), "{run}");
        assert!(out.stderr.contains("error: run ") && out.stderr.contains("hint: "), "{}", out.stderr);
        assert!(!marker.exists(), "the step after a failure does not run");
        assert_eq!(down.hits.load(Ordering::SeqCst), 2);
    }

    fn continue_on_error_goes_on_and_later_steps_see_the_failure() {
        let env = TestEnv::new();
        let steps = "    - id: check\n      action: exec\n      continue_on_error: true\n      input: { command: [sh, -c, \"echo half; exit 3\"] }\n    - id: report\n      action: exec\n      input: { command: [sh, -c, \"echo code=${{ steps.check.output.exit_code }}\"] }\n    - id: only-if-ok\n      action: exec\n      if: \"${{ steps.check.output.exit_code == 0 }}\"\n      input: { command: [\"false\"] }\n";
        let file = write(&env, "tolerant.yaml", &definition("tolerant", "", steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let run = env.ok(&["automation", "run", "tolerant", "-o", "json"]).json();
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["steps"][0]["status"], "failed");
        assert!(run["steps"][0]["error"].as_str().unwrap().contains("status 3"));
        assert_eq!(run["steps"][1]["output"]["stdout"], "code=3\n");
        assert_eq!(run["steps"][2]["status"], "skipped", "its `if` is false");
    }

    fn step_and_run_timeouts_stop_the_command() {
        let env = TestEnv::new();
        let steps = "    - id: slow\n      action: exec\n      timeout: 1s\n      input: { command: [sleep, \"30\"] }\n";
        let file = write(&env, "slow.yaml", &definition("slow", "", steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let started = Instant::now();
        let out = env.run(&["automation", "run", "slow", "-o", "json"]);
        out.failure(1);
        assert!(started.elapsed() < Duration::from_secs(15), "the step was stopped");
        let run = out.json();
        assert_eq!(run["steps"][0]["error"], "timed out after 1s");

        // The run's own limit applies even to a step that tolerates errors.
        let steps = "    - id: a\n      action: exec\n      continue_on_error: true\n      input: { command: [sleep, \"30\"] }\n    - id: b\n      action: exec\n      input: { command: [\"true\"] }\n";
        let file = write(&env, "capped.yaml", &definition("capped", "  timeout: 1s\n", steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let run = env.run(&["automation", "run", "capped", "-o", "json"]).json();
        assert_eq!(run["status"], "failed");
        assert_eq!(run["steps"][0]["error"], "the run timed out after 1s");
        assert_eq!(run["steps"][1]["status"], "skipped");
    }

    fn invalid_definitions_are_refused_with_file_and_line_and_store_nothing() {
        let env = TestEnv::new();
        env.ok(&["whoami"]);
        for (name, text, line, says) in [
            ("cron.yaml", EXAMPLE.replace("*/5 * * * *", "*/5 * * *"), 7, "bad cron expression"),
            ("zone.yaml", EXAMPLE.replace("timezone: UTC", "timezone: Mars/Olympus"), 7, "unknown time zone"),
            ("action.yaml", EXAMPLE.replace("action: exec", "action: teleport"), 13, "unknown action 'teleport'"),
            ("later.yaml", EXAMPLE.replace("parameters.source", "steps.store.output.stdout"), 11, "which runs later"),
            ("itself.yaml", EXAMPLE.replace("steps.fetch.output", "steps.store.output"), 14, "its own output"),
            ("param.yaml", EXAMPLE.replace("parameters.source", "parameters.origin"), 11, "parameter 'origin', which is not declared"),
            ("field.yaml", EXAMPLE.replace("retries: 2", "retries: 2, colour: red"), 11, "unknown http input 'colour'"),
            ("typo.yaml", EXAMPLE.replace("  trigger:", "  triger:"), 7, "unknown field `triger`"),
            ("version.yaml", EXAMPLE.replace("plat.dev/v1", "plat.dev/v9"), 1, "unsupported apiVersion"),
            ("yaml.yaml", EXAMPLE.replace("steps:\n", "steps: [\n"), 9, ""),
        ] {
            let file = write(&env, name, &text);
            let out = env.refused(None, &["automation", "apply", "-f", &file], 1);
            let location = format!("error: {file}:{line}: ");
            assert!(out.stderr.starts_with(&location), "{name}: expected {location}\n{}", out.stderr);
            assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        }
        assert_eq!(env.ok(&["automation", "list", "-o", "json"]).json(), serde_json::json!([]));

        // A parameter without a default must be given; unknown and mistyped ones are refused.
        let steps = "    - id: echo\n      action: exec\n      input: { command: [echo, \"${{ parameters.count }}\"] }\n";
        let file = write(&env, "count.yaml", &definition("count", "  parameters:\n    - { name: count, type: integer }\n", steps));
        env.ok(&["automation", "apply", "-f", &file]);
        for (args, says) in [
            (vec!["automation", "run", "count"], "missing required parameter(s): count"),
            (vec!["automation", "run", "count", "--param", "count=many"], "'many' is not an integer"),
            (vec!["automation", "run", "count", "--param", "colour=red"], "unknown parameter 'colour'"),
            (vec!["automation", "run", "ghost"], "automation 'ghost' not found"),
        ] {
            let out = env.refused(None, &args, 1);
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        }
        let run = env.ok(&["automation", "run", "count", "-p", "count=7", "-o", "json"]).json();
        assert_eq!(run["params"]["count"], 7);
        assert_eq!(run["steps"][0]["output"]["stdout"], "7\n");
    }

    fn r_aut_1_managing_needs_the_automation_manager_role_and_running_the_run_permission() {
        let env = TestEnv::new();
        env.acme();
        let steps = "    - id: hello\n      action: exec\n      input: { command: [echo, hello] }\n";
        let file = write(&env, "hello.yaml", &definition("hello", "", steps));
        // acme's owner holds every permission, but acme lacks the role.
        let out = env.refused(Some(ALICE), &["automation", "apply", "-f", &file], 5);
        assert!(out.stderr.contains("automation-manager"), "{}", out.stderr);
        env.ok(&["account", "update", "acme", "--add-role", "automation-manager"]);
        env.ok_as(ALICE, &["automation", "apply", "-f", &file]);

        // A developer may run and read, not manage.
        env.ok_as(ALICE, &["user", "create", "carol@acme.test", "--group", "developers"]);
        let carol = "carol@acme.test";
        let out = env.refused(Some(carol), &["automation", "apply", "-f", &file], 5);
        assert!(out.stderr.contains("automations:write"), "{}", out.stderr);
        env.refused(Some(carol), &["automation", "delete", "hello", "--yes"], 5);
        let run = env.ok_as(carol, &["automation", "run", "hello", "-o", "json"]).json();
        assert_eq!(run["owner"], carol);
        assert_eq!(run["account"], "acme");

        // R-AUT-6: name, account and owner in listings.
        let table = env.ok_as(carol, &["automation", "list"]).stdout;
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(&header[..3], ["NAME", "ACCOUNT", "OWNER"], "{table}");
        assert!(table.lines().nth(1).unwrap().starts_with("hello"), "{table}");
        assert!(table.contains("acme") && table.contains(ALICE), "{table}");
        let runs = env.ok_as(carol, &["automation", "runs"]).stdout;
        assert!(runs.contains("hello") && runs.contains("succeeded") && runs.contains(carol), "{runs}");

        // Another account sees none of it.
        let theirs = env.ok_as(crate::support::BOB, &["automation", "list", "-o", "json"]).json();
        assert_eq!(theirs, serde_json::json!([]));
        let id = run["id"].as_str().unwrap();
        env.refused(Some(crate::support::BOB), &["automation", "logs", id], 1);

        env.ok_as(ALICE, &["automation", "delete", "hello", "--yes"]);
        assert_eq!(env.ok_as(ALICE, &["automation", "list", "-o", "json"]).json(), serde_json::json!([]));
        let kept = env.ok_as(ALICE, &["automation", "runs", "-o", "json"]).json();
        assert_eq!(kept[0]["id"], id, "runs stay on record after the automation is deleted");
    }

    fn cancel_stops_the_running_step_and_kills_its_process() {
        let env = TestEnv::new();
        let pid_file = env.root().join("sleep.pid");
        let steps = format!(
            "    - id: wait\n      action: exec\n      input: {{ command: [sh, -c, \"echo $$ > {} && exec sleep 60\"] }}\n    - id: never\n      action: exec\n      input: {{ command: [\"true\"] }}\n",
            pid_file.display()
        );
        let file = write(&env, "long.yaml", &definition("long", "", &steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let mut command = env.command(&["automation", "run", "long", "-o", "json"]);
        if env.server.is_some() {
            command.env("PLAT_TOKEN", crate::services::idp().token("operator@localhost"));
        }
        let child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pid_file.exists() || std::fs::read_to_string(&pid_file).unwrap().trim().is_empty() {
            assert!(Instant::now() < deadline, "the step never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        let runs = env.ok(&["automation", "runs", "-o", "json"]).json();
        assert_eq!(runs[0]["status"], "running");
        let id = runs[0]["id"].as_str().unwrap().to_owned();
        let cancel = env.ok(&["automation", "cancel", &id, "-o", "json"]).json();
        assert_eq!(cancel["cancel_requested"], true);
        let started = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "stopped well before the sleep ends");
        assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
        let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(run["status"], "cancelled");
        assert_eq!(run["steps"][0]["status"], "cancelled");
        assert_eq!(run["steps"][1]["status"], "skipped");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let alive = std::process::Command::new("kill")
            .args(["-0", pid.trim()])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "the step's process was killed");
        // Cancelling again is harmless.
        env.ok(&["automation", "cancel", &id]);
    }
}

#[test]
fn detach_is_refused_where_no_worker_can_take_the_run() {
    let env = TestEnv::new();
    let steps = "    - id: hello\n      action: exec\n      input: { command: [echo, hello] }\n";
    let file = write(&env, "hello.yaml", &definition("hello", "", steps));
    env.ok(&["automation", "apply", "-f", &file]);
    let out = env.refused(None, &["automation", "run", "hello", "--detach"], 1);
    assert!(out.stderr.contains("--detach"), "{}", out.stderr);
}

/// Issue 7: `plat server` queues detached runs in its database and its workers execute them.
#[test]
fn a_detached_run_is_queued_and_executed_by_the_server_workers() {
    for backend in [
        crate::support::Backend::ServerSqlite,
        crate::support::Backend::ServerPostgres,
    ] {
        crate::support::with_backend(backend, || {
            let env = TestEnv::new();
            let steps = "    - id: hello\n      action: exec\n      input: { command: [echo, \"hi ${{ parameters.who }}\"] }\n";
            let file = write(
                &env,
                "hello.yaml",
                &definition(
                    "hello",
                    "  parameters:\n    - { name: who, default: there }\n",
                    steps,
                ),
            );
            env.ok(&["automation", "apply", "-f", &file]);
            let ids: Vec<String> = (0..5)
                .map(|i| {
                    let who = format!("who=w{i}");
                    let queued = env
                        .ok(&[
                            "automation",
                            "run",
                            "hello",
                            "--detach",
                            "-p",
                            &who,
                            "-o",
                            "json",
                        ])
                        .json();
                    assert!(
                        queued["status"] == "queued" || queued["status"] == "running",
                        "{queued}"
                    );
                    queued["id"].as_str().unwrap().to_owned()
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let runs = env.ok(&["automation", "runs", "-o", "json"]).json();
                let done = runs
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["status"] == "succeeded")
                    .count();
                if done == ids.len() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the workers did not run the queue: {runs}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            for (i, id) in ids.iter().enumerate() {
                let logs = env.ok(&["automation", "logs", id]).stdout;
                assert!(logs.contains(&format!("stdout: hi w{i}")), "{logs}");
            }
        });
    }
}

/// A step that prints a line, then waits (up to 30 s, then fails) for the test to create `go`
/// in its working directory, then prints another.
fn gated_step(dir: &std::path::Path) -> String {
    format!(
        "    - id: slow\n      action: exec\n      input: {{ command: [sh, -c, \"echo first; i=0; while [ ! -e {go} ]; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.1; done; echo second\"] }}\n",
        go = dir.join("go").display()
    )
}

/// Issue 7: `run` streams logs: a command's lines are shown as it writes them, not when it ends.
#[test]
fn an_exec_steps_lines_are_shown_while_it_still_runs() {
    use std::io::BufRead;
    let env = TestEnv::new();
    let steps = gated_step(env.root());
    let file = write(&env, "slow.yaml", &definition("slow", "", &steps));
    env.ok(&["automation", "apply", "-f", &file]);
    let mut child = env
        .command(&["automation", "run", "slow"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no `first` line: {seen:?}"))
            .unwrap();
        if line.contains("stdout: first") {
            break;
        }
        seen.push(line);
    }
    // The step is still waiting for us: `first` was shown while it ran.
    std::fs::write(env.root().join("go"), "").unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("stdout: second")),
        "{rest:?}"
    );
}

/// Issue 7: a run a server worker executes shows its running step's lines in `automation logs`
/// (so `logs -f` follows it) before the step ends.
#[test]
fn a_worker_records_a_running_steps_lines_as_they_come() {
    crate::support::with_backend(crate::support::Backend::ServerSqlite, || {
        let env = TestEnv::new();
        let steps = gated_step(env.root());
        let file = write(&env, "slow.yaml", &definition("slow", "", &steps));
        env.ok(&["automation", "apply", "-f", &file]);
        let queued = env
            .ok(&["automation", "run", "slow", "--detach", "-o", "json"])
            .json();
        let id = queued["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = env.ok(&["automation", "logs", &id]).stdout;
            if logs.contains("stdout: first") {
                assert!(!logs.contains("stdout: second"), "{logs}");
                break;
            }
            assert!(Instant::now() < deadline, "no `first` line yet: {logs}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let run = env.ok(&["automation", "runs", "slow", "-o", "json"]).json();
        assert_eq!(run[0]["status"], "running", "{run}");
        std::fs::write(env.root().join("go"), "").unwrap();
        loop {
            let run = env.ok(&["automation", "runs", "slow", "-o", "json"]).json();
            if run[0]["status"] == "succeeded" {
                break;
            }
            assert!(Instant::now() < deadline, "{run}");
            std::thread::sleep(Duration::from_millis(300));
        }
        let logs = env.ok(&["automation", "logs", &id]).stdout;
        assert!(logs.contains("stdout: second"), "{logs}");
    });
}
