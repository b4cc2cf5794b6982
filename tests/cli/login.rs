//! `plat login` / `auth` / `logout` against a real `plat server` and the real IdP (device flow),
//! and the tokens the server must refuse.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use crate::services::{AUDIENCE, Idp, Server, free_port, idp, runtime};
use crate::support::{Backend, Outcome, TestEnv, with_backend};

const OPERATOR: &str = "operator@localhost";

fn on_server(body: impl FnOnce(&TestEnv, &Server)) {
    with_backend(Backend::ServerSqlite, || {
        let env = TestEnv::new();
        let server = env.server.as_ref().expect("server backend");
        body(&env, server);
    });
}

/// Runs `plat login …` and does the user's part of the device flow (approving the printed code
/// at the IdP as `email`), like a person with a browser would.
fn login_as(env: &TestEnv, args: &[&str], email: &str, extra: &[(&str, &str)]) -> Outcome {
    let mut cmd = env.command(args);
    cmd.envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run plat login");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut transcript = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        transcript.push_str(&line);
        if let Some(rest) = line.trim().split_once("enter the code ") {
            let subject = email.split('@').next().unwrap();
            let approved = idp().post(
                "/test/approve",
                serde_json::json!({ "user_code": rest.1, "sub": subject, "email": email }),
            );
            assert!(
                approved.get("error").is_none(),
                "approve failed: {approved}"
            );
            line.clear();
            break;
        }
        line.clear();
    }
    stderr.read_to_string(&mut transcript).unwrap();
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: transcript,
    }
}

#[test]
fn login_runs_the_device_flow_saves_the_context_and_commands_use_it() {
    on_server(|env, server| {
        let login = login_as(
            env,
            &[
                "login",
                "--server",
                &server.url,
                "--insecure-storage",
                "-o",
                "json",
            ],
            OPERATOR,
            &[],
        );
        login.success();
        assert_eq!(login.json()["user"], OPERATOR, "{}", login.transcript());
        assert!(
            login.stderr.contains("--insecure-storage"),
            "{}",
            login.stderr
        );
        assert!(login.stderr.contains("Logged in"), "{}", login.stderr);

        // The context remembers the server and the IdP, never a token (R-SEC: secrets not in config).
        let config = std::fs::read_to_string(env.config_dir().join("config.yaml")).unwrap();
        assert!(
            config.contains(&server.url) && config.contains(&idp().issuer),
            "{config}"
        );
        let token = env.run_plain(&["auth", "token"]);
        token.success();
        let token = token.stdout.trim().to_owned();
        assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
        assert!(!config.contains(&token));

        // Later commands need no PLAT_TOKEN: the stored login is used.
        let accounts = env.run_plain(&["account", "list", "-o", "json"]);
        accounts.success();
        assert_eq!(accounts.json()[0]["slug"], "platform");
        let status = env.run_plain(&["auth", "status", "-o", "json"]);
        status.success();
        assert_eq!(status.json()["logged_in"], true);
        assert_eq!(status.json()["email"], OPERATOR);
        // `-v` output and errors never carry the token.
        let verbose = env.run_plain(&["account", "list", "-v"]);
        assert!(!verbose.stderr.contains(&token) && !verbose.stdout.contains(&token));

        env.run_plain(&["logout"]).success();
        let after = env.run_plain(&["account", "list"]);
        after.failure(4);
        assert!(
            after.stderr.contains("hint: plat login"),
            "{}",
            after.stderr
        );
        env.run_plain(&["auth", "status"]).failure(4);
    });
}

#[test]
fn login_with_token_reads_stdin_and_names_the_context() {
    on_server(|env, server| {
        let token = idp().token(OPERATOR);
        let mut child = env
            .command(&[
                "login",
                "--server",
                &server.url,
                "--with-token",
                "--insecure-storage",
                "--context",
                "ci",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), token.as_bytes()).unwrap();
        drop(child.stdin.take());
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let list = env.run_plain(&["context", "list", "-o", "json"]);
        let names: Vec<_> = list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(names.contains(&"ci".to_owned()), "{}", list.stdout);
        env.run_plain(&["account", "show", "platform"]).success();
    });
}

#[test]
fn login_refuses_while_plat_token_is_set() {
    on_server(|env, server| {
        let before = std::fs::read_to_string(env.config_dir().join("config.yaml")).unwrap();
        let outcome = env.run_with(&["login", "--server", &server.url], &[]);
        // run_with sets PLAT_TOKEN on a server backend.
        outcome.failure(1);
        assert!(outcome.stderr.contains("PLAT_TOKEN"), "{}", outcome.stderr);
        let after = std::fs::read_to_string(env.config_dir().join("config.yaml")).unwrap();
        assert_eq!(before, after);
    });
}

#[test]
fn login_without_a_usable_keyring_says_so_before_the_device_flow() {
    on_server(|env, server| {
        let outcome = login_as(
            env,
            &["login", "--server", &server.url],
            OPERATOR,
            &[(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/plat-test-bus",
            )],
        );
        outcome.failure(1);
        assert!(outcome.stderr.contains("keyring"), "{}", outcome.stderr);
        assert!(
            outcome.stderr.contains("--insecure-storage"),
            "{}",
            outcome.stderr
        );
        assert!(
            !outcome.stderr.contains("enter the code"),
            "no device flow was started: {}",
            outcome.stderr
        );
    });
}

/// Runs only where the test script started gnome-keyring under `dbus-run-session`.
#[test]
fn login_keeps_the_refresh_token_in_the_os_keyring() {
    let Ok(bus) = std::env::var("DBUS_SESSION_BUS_ADDRESS") else {
        assert!(
            std::env::var("PLAT_TEST_KEYRING").is_err(),
            "PLAT_TEST_KEYRING is set but no D-Bus session is"
        );
        return;
    };
    if std::env::var("PLAT_TEST_KEYRING").is_err() {
        return;
    }
    on_server(|env, server| {
        let login = login_as(
            env,
            &["login", "--server", &server.url],
            OPERATOR,
            &[("DBUS_SESSION_BUS_ADDRESS", &bus)],
        );
        login.success();
        assert!(
            !env.data_dir().join("auth").exists()
                || std::fs::read_dir(env.data_dir().join("auth"))
                    .unwrap()
                    .all(|e| !e
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".tokens.json"))
        );
        let mut cmd = env.command(&["account", "list", "-o", "json"]);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus);
        assert!(cmd.output().unwrap().status.success());
        let mut logout = env.command(&["logout"]);
        logout.env("DBUS_SESSION_BUS_ADDRESS", &bus);
        assert!(logout.output().unwrap().status.success());
    });
}

fn with_token(env: &TestEnv, token: &str, args: &[&str]) -> Outcome {
    let output = env.command(args).env("PLAT_TOKEN", token).output().unwrap();
    Outcome::from(output)
}

#[test]
fn tampered_foreign_wrong_audience_and_expired_tokens_exit_4() {
    on_server(|env, _server| {
        let good = idp().token(OPERATOR);
        with_token(env, &good, &["account", "list"]).success();

        // Tampered: the payload names someone else, the signature stays.
        let parts: Vec<&str> = good.split('.').collect();
        let payload = String::from_utf8(base64_url_decode(parts[1]))
            .unwrap()
            .replace(OPERATOR, "mallory@evil.test");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            base64_url_encode(payload.as_bytes()),
            parts[2]
        );
        // Another audience from the same IdP.
        let wrong_audience =
            runtime().block_on(idp().device_flow("operator", OPERATOR, "urn:other:api"));
        // Another issuer entirely.
        let stranger = Idp::spawn(&[]);
        let foreign = runtime().block_on(stranger.device_flow("operator", OPERATOR, AUDIENCE));

        for (what, token) in [
            ("tampered", tampered),
            ("wrong audience", wrong_audience),
            ("wrong issuer", foreign),
            ("garbage", "not-a-jwt".to_owned()),
        ] {
            let outcome = with_token(env, &token, &["account", "list"]);
            assert_eq!(outcome.code, 4, "{what}: {}", outcome.transcript());
            assert!(
                outcome.stderr.starts_with("error:"),
                "{what}: {}",
                outcome.stderr
            );
            assert!(
                !outcome.stderr.contains(&token),
                "{what}: the token is echoed"
            );
        }
    });
}

#[test]
fn an_expired_token_exits_4() {
    let short = Idp::spawn(&[("IDP_ACCESS_TOKEN_TTL", "1")]);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_trusting(
        &short.issuer,
        format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        dir.path(),
    );
    let token = runtime().block_on(short.device_flow("operator", OPERATOR, AUDIENCE));
    // The server allows 5 s of clock skew.
    std::thread::sleep(std::time::Duration::from_secs(7));
    with_backend(Backend::Embedded, || {
        let env = TestEnv::new();
        let config = format!(
            "current_context: team\ncontexts:\n- name: team\n  server: {}\n",
            server.url
        );
        std::fs::write(env.config_dir().join("config.yaml"), config).unwrap();
        let outcome = with_token(&env, &token, &["account", "list"]);
        outcome.failure(4);
        assert!(outcome.stderr.contains("hint:"), "{}", outcome.stderr);
    });
}

#[test]
fn an_unreachable_server_is_one_clear_error_with_its_url() {
    with_backend(Backend::Embedded, || {
        let env = TestEnv::new();
        let url = format!("http://127.0.0.1:{}", free_port());
        let config = format!("current_context: team\ncontexts:\n- name: team\n  server: {url}\n");
        std::fs::write(env.config_dir().join("config.yaml"), config).unwrap();
        let outcome = with_token(&env, "any", &["account", "list"]);
        outcome.failure(1);
        assert!(outcome.stderr.contains(&url), "{}", outcome.stderr);
        assert!(!outcome.stderr.contains("panicked") && !outcome.stderr.contains("backtrace"));
        let login = env.run_plain(&["login", "--server", &url, "--insecure-storage"]);
        login.failure(1);
        assert!(login.stderr.contains(&url), "{}", login.stderr);
    });
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

fn base64_url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
