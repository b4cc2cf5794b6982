//! Issue 7, R-AUT-3: the triggers `plat server` runs by itself — schedules fired once per tick
//! across replicas, constant automations, signed webhooks — and runs that outlive a killed
//! server. Real servers over SQLite and PostgreSQL, real workers, real time (sub-minute
//! schedules use cron's seconds field, so nothing waits for minutes).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::services::{Server, idp};
use crate::support::{ALICE, Backend, TestEnv, with_backend};

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.root().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn automation(name: &str, trigger: &str, steps: &str) -> String {
    format!(
        "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: {{ name: {name} }}\nspec:\n  trigger: {trigger}\n  steps:\n{steps}"
    )
}

fn exec_step(script: &str) -> String {
    format!(
        "    - id: work\n      action: exec\n      input: {{ command: [sh, -c, {script:?}] }}\n"
    )
}

fn runs_of(env: &TestEnv, user: &str, name: &str) -> Vec<Value> {
    let out = env.ok_as(user, &["automation", "runs", name, "-o", "json"]);
    let mut runs = out.json().as_array().unwrap().clone();
    runs.reverse(); // oldest first
    runs
}

/// Polls `check` until it gives a value or `seconds` have passed.
#[track_caller]
fn wait_for<T>(seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn seconds(text: &Value) -> i64 {
    text.as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second()
}

/// Text columns of a query against the server's database.
fn query(database_url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = plat::internals::Store::connect(database_url, 1)
            .await
            .unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&store.pool)
            .await
            .unwrap();
        store.pool.close().await;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect())
            .collect()
    })
}

#[test]
fn r_aut_3_a_schedule_fires_once_per_tick_across_two_replicas_on_postgres() {
    with_backend(
        Backend::ServerPostgres,
        schedule_fires_once_per_tick_as_its_owner,
    );
}

#[test]
fn r_aut_3_a_schedule_fires_once_per_tick_across_two_replicas_on_sqlite() {
    with_backend(
        Backend::ServerSqlite,
        schedule_fires_once_per_tick_as_its_owner,
    );
}

/// Two replicas on the test's database, a schedule every two seconds in a zone that is not UTC.
fn schedule_fires_once_per_tick_as_its_owner() {
    let env = TestEnv::new();
    let first = env.server.as_ref().unwrap();
    let _second = Server::start(first.database_url.clone(), &env.root().join("replica-2"));
    env.acme_managing_automations();
    let file = write(
        &env,
        "tick.yaml",
        &automation(
            "tick",
            r#"{ schedule: { cron: "*/2 * * * * *", timezone: Europe/Berlin } }"#,
            &exec_step("echo tick"),
        ),
    );
    env.ok_as(ALICE, &["automation", "apply", "-f", &file]);
    let fired = wait_for(30, "five scheduled runs", || {
        let runs = runs_of(&env, ALICE, "tick");
        (runs.len() >= 5).then_some(runs)
    });
    env.ok_as(ALICE, &["automation", "delete", "tick", "--yes"]);
    std::thread::sleep(Duration::from_secs(3));
    let runs = runs_of(&env, ALICE, "tick");
    assert!(runs.len() >= fired.len());
    for run in &runs {
        assert_eq!(run["trigger"], "schedule", "{run}");
        assert_eq!(run["owner"], ALICE, "the automation's owner: {run}");
        assert_eq!(run["account"], "acme");
    }
    let ticks = query(
        &first.database_url,
        "SELECT k.scheduled_at, r.created_at FROM automation_ticks k \
         JOIN automation_runs r ON r.id = k.run_id ORDER BY k.scheduled_at",
    );
    assert_eq!(
        ticks.len(),
        runs.len(),
        "one run per tick, whichever replica fired it"
    );
    let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_second();
    for pair in ticks.windows(2) {
        let step = at(&pair[1][0]) - at(&pair[0][0]);
        assert!(
            step >= 2 && step % 2 == 0,
            "ticks of */2, none twice: {ticks:?}"
        );
    }
    // A replica that falls behind fires only the latest tick; on an idle machine none are lost.
    let span = at(&ticks[ticks.len() - 1][0]) - at(&ticks[0][0]);
    assert!(
        span / 2 + 1 - ticks.len() as i64 <= 1,
        "ticks skipped: {ticks:?}"
    );
    for tick in &ticks {
        let late = at(&tick[1]) - at(&tick[0]);
        // Rounds run every second and times are whole seconds.
        assert!((0..=3).contains(&late), "queued on time: {tick:?}");
    }
    let done = wait_for(30, "the scheduled runs to finish", || {
        let runs = runs_of(&env, ALICE, "tick");
        runs.iter()
            .all(|r| r["status"] == "succeeded")
            .then_some(runs)
    });
    let logs = env.ok_as(
        ALICE,
        &["automation", "logs", done[0]["id"].as_str().unwrap()],
    );
    assert!(logs.stdout.contains("stdout: tick"), "{}", logs.stdout);
}

#[test]
fn r_aut_3_a_constant_automation_keeps_one_run_active_and_backs_off_after_failures() {
    with_backend(Backend::ServerPostgres, || {
        let env = TestEnv::new();
        let first = env.server.as_ref().unwrap();
        let _second = Server::start(first.database_url.clone(), &env.root().join("replica-2"));
        let file = write(
            &env,
            "always.yaml",
            &automation("always", "constant", &exec_step("sleep 0.3; echo round")),
        );
        env.ok(&["automation", "apply", "-f", &file]);
        let started = Instant::now();
        let mut most_active = 0;
        let mut finished = 0;
        while started.elapsed() < Duration::from_secs(8) || finished < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "too few runs: {finished}"
            );
            let runs = runs_of(&env, "operator@localhost", "always");
            let active = runs
                .iter()
                .filter(|r| r["status"] == "queued" || r["status"] == "running")
                .count();
            most_active = most_active.max(active);
            finished = runs.iter().filter(|r| r["status"] == "succeeded").count();
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            most_active, 1,
            "exactly one run active at any time across both replicas"
        );
        env.ok(&["automation", "delete", "always", "--yes"]);

        // A constant automation that keeps failing waits 1 s, then 2 s, then 4 s ... between runs.
        let file = write(
            &env,
            "broken.yaml",
            &automation("broken", "constant", &exec_step("echo no; exit 1")),
        );
        env.ok(&["automation", "apply", "-f", &file]);
        let failed = wait_for(30, "three failed runs", || {
            let runs: Vec<Value> = runs_of(&env, "operator@localhost", "broken")
                .into_iter()
                .filter(|r| r["status"] == "failed")
                .collect();
            (runs.len() >= 3).then_some(runs)
        });
        env.ok(&["automation", "delete", "broken", "--yes"]);
        for (k, pair) in failed.windows(2).take(2).enumerate() {
            let pause = seconds(&pair[1]["started_at"]) - seconds(&pair[0]["finished_at"]);
            assert!(
                pause >= 1 << k,
                "back-off after failure {}: waited {pause}s",
                k + 1
            );
        }
    });
}

/// `printf BODY | openssl dgst -sha256 -hmac SECRET`, as the README tells senders to sign.
fn sign(secret: &str, body: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", hex.split_whitespace().next().unwrap())
}

fn post(url: &str, body: &str, signature: Option<&str>) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("X-Plat-Signature-256", signature);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn r_aut_3_a_webhook_signed_with_the_secret_queues_a_run_with_its_payload() {
    with_backend(Backend::ServerSqlite, || {
        let mut env = TestEnv::new();
        let database = env.server.take().unwrap().database_url.clone();
        env.use_server(Server::start_with(
            &idp().issuer,
            database,
            &env.root().join("server"),
            &[("PRICES_HOOK_SECRET", "s3cret-for-prices")],
        ));
        env.acme_managing_automations();
        let file = write(
            &env,
            "hook.yaml",
            &automation(
                "prices-hook",
                "{ webhook: { secret_env: PRICES_HOOK_SECRET } }",
                "    - id: work\n      action: exec\n      input: { command: [echo, \"sku=${{ parameters.event.sku }}\"] }\n",
            ),
        );
        env.ok_as(ALICE, &["automation", "apply", "-f", &file]);
        let base = &env.server.as_ref().unwrap().url;
        let url = format!("{base}/api/v1/automations/prices-hook/webhook?account=acme");
        let body = r#"{"sku":"apple-42","price":3}"#;
        let good = sign("s3cret-for-prices", body);

        for (what, url, body, signature) in [
            ("no signature", url.clone(), body, None),
            (
                "another secret",
                url.clone(),
                body,
                Some(sign("guess", body)),
            ),
            (
                "another body",
                url.clone(),
                r#"{"sku":"pear"}"#,
                Some(good.clone()),
            ),
            ("not hex", url.clone(), body, Some("sha256=xyz".to_owned())),
            (
                "no account",
                url.replace("?account=acme", ""),
                body,
                Some(good.clone()),
            ),
            (
                "another automation",
                url.replace("prices-hook", "ghost"),
                body,
                Some(good.clone()),
            ),
        ] {
            let (status, answer) = post(&url, body, signature.as_deref());
            assert_eq!(status, 401, "{what}: {answer}");
            assert_eq!(
                answer["error"]["message"], "webhook signature missing or wrong",
                "{what}"
            );
        }
        assert!(
            runs_of(&env, ALICE, "prices-hook").is_empty(),
            "a refused webhook queues nothing"
        );

        let (status, answer) = post(&url, body, Some(&good));
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["run"]["trigger"], "webhook");
        assert_eq!(answer["run"]["owner"], ALICE);
        assert_eq!(answer["run"]["params"]["event"]["sku"], "apple-42");
        let id = answer["run"]["id"].as_str().unwrap().to_owned();
        let run = wait_for(30, "the webhook's run", || {
            let run = env
                .ok_as(ALICE, &["automation", "runs", "prices-hook", "-o", "json"])
                .json()[0]
                .clone();
            (run["status"] == "succeeded").then_some(run)
        });
        assert_eq!(run["id"], id.as_str());
        assert_eq!(run["steps"][0]["output"]["stdout"], "sku=apple-42\n");
    });
}

#[test]
fn a_run_left_running_by_a_killed_server_is_reclaimed_after_restart_or_failed_after_its_attempts() {
    with_backend(Backend::ServerSqlite, || {
        let mut env = TestEnv::new();
        let database = env.server.as_ref().unwrap().database_url.clone();
        let serve = |env: &mut TestEnv, max_attempts: &str| {
            // Killed first (SIGKILL, as `kill -9`): no chance to tidy anything up.
            drop(env.server.take());
            let server = Server::start_with(
                &idp().issuer,
                database.clone(),
                &env.root().join("server"),
                &[
                    ("PLAT_SERVER_RUN_LEASE_SECONDS", "2"),
                    ("PLAT_SERVER_RUN_MAX_ATTEMPTS", max_attempts),
                ],
            );
            env.use_server(server);
        };
        serve(&mut env, "3");
        let marker = env.root().join("first-attempt");
        // The first attempt hangs (and dies with its server); the next one finishes.
        let script = format!(
            "if [ -e {m} ]; then echo second try; else touch {m}; sleep 20; fi",
            m = marker.display()
        );
        let file = write(
            &env,
            "flaky.yaml",
            &automation("flaky", "manual", &exec_step(&script)),
        );
        env.ok(&["automation", "apply", "-f", &file]);
        let queued = env
            .ok(&["automation", "run", "flaky", "--detach", "-o", "json"])
            .json();
        let id = queued["id"].as_str().unwrap().to_owned();
        wait_for(30, "the first attempt to start", || {
            marker.exists().then_some(())
        });
        let running = env
            .ok(&["automation", "runs", "flaky", "-o", "json"])
            .json();
        assert_eq!(running[0]["status"], "running");

        serve(&mut env, "3");
        let run = wait_for(30, "the reclaimed run to finish", || {
            let run = env
                .ok(&["automation", "runs", "flaky", "-o", "json"])
                .json()[0]
                .clone();
            (run["status"] == "succeeded").then_some(run)
        });
        assert_eq!(run["id"], id.as_str(), "the same run, not a new one");
        assert_eq!(run["attempt"], 2);
        let logs = env.ok(&["automation", "logs", &id]).stdout;
        assert!(logs.contains("queued again as attempt 2 of 3"), "{logs}");
        assert!(logs.contains("stdout: second try"), "{logs}");

        // A run whose every attempt dies is failed with the reason, never left running.
        let file = write(
            &env,
            "hang.yaml",
            &automation("hang", "manual", &exec_step("sleep 20")),
        );
        env.ok(&["automation", "apply", "-f", &file]);
        let id = env
            .ok(&["automation", "run", "hang", "--detach", "-o", "json"])
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        wait_for(30, "the run to start", || {
            let run = env.ok(&["automation", "runs", "hang", "-o", "json"]).json()[0].clone();
            (run["status"] == "running").then_some(())
        });
        serve(&mut env, "1");
        let run = wait_for(30, "the run to be failed", || {
            let run = env.ok(&["automation", "runs", "hang", "-o", "json"]).json()[0].clone();
            (run["status"] == "failed").then_some(run)
        });
        assert_eq!(run["id"], id.as_str());
        let error = run["error"].as_str().unwrap();
        assert!(error.contains("gave up after 1 attempt"), "{error}");
    });
}
