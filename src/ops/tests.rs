//! The operations tier in process: `plat::run_with` drives the whole command (parse, ops,
//! service, store, Terraform) in this test's process, on an embedded platform in a temp dir,
//! and the output is read back from buffers. The spawned-binary tests in tests/cli keep the
//! contract; these check the operations' rules where a failure points at the code at once.

use std::path::PathBuf;

use crate::config::Env;
use crate::output::Sinks;

/// An embedded platform of its own: temp HOME, XDG and PLAT dirs, and the Terraform binary
/// scripts/test.sh found (`PLAT_IAC_BIN`), else the one on PATH.
struct Platform {
    dir: tempfile::TempDir,
}

/// What one command did.
struct Ran {
    code: u8,
    stdout: String,
    stderr: String,
}

impl Platform {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn env(&self, user: Option<&str>) -> Env {
        let mut env = Env::default();
        for (name, sub) in [
            ("HOME", "home"),
            ("XDG_CONFIG_HOME", "xdg/config"),
            ("XDG_DATA_HOME", "xdg/data"),
            ("XDG_CACHE_HOME", "xdg/cache"),
            ("PLAT_CONFIG_DIR", "plat/config"),
            ("PLAT_DATA_DIR", "plat/data"),
        ] {
            let path = self.path(sub);
            std::fs::create_dir_all(&path).expect("mkdir");
            env.vars.insert(name.into(), path.display().to_string());
        }
        let process = Env::from_process();
        let terraform = process.get("PLAT_IAC_BIN").unwrap_or("terraform");
        env.vars.insert("PLAT_IAC_BIN".into(), terraform.into());
        env.vars.insert(
            "PATH".into(),
            process.get("PATH").unwrap_or_default().into(),
        );
        env.vars.insert("USER".into(), "operator".into());
        env.vars.insert("NO_COLOR".into(), "1".into());
        if let Some(user) = user {
            env.vars.insert("PLAT_USER".into(), user.into());
        }
        env
    }

    fn run_as(&self, user: Option<&str>, args: &[&str]) -> Ran {
        let sinks = Sinks::captured();
        let argv = std::iter::once("plat")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        let code = crate::run_with(argv, self.env(user), sinks.clone());
        Ran {
            code,
            stdout: sinks.stdout.contents(),
            stderr: sinks.stderr.contents(),
        }
    }

    #[track_caller]
    fn ok(&self, user: Option<&str>, args: &[&str]) -> Ran {
        let ran = self.run_as(user, args);
        assert_eq!(ran.code, 0, "plat {args:?}\n{}{}", ran.stdout, ran.stderr);
        ran
    }

    fn env_names(&self, user: &str) -> Vec<String> {
        let listed = self.ok(Some(user), &["env", "list", "-o", "json"]);
        let envs: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON list");
        envs.as_array()
            .expect("array")
            .iter()
            .map(|env| env["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

const ALICE: &str = "alice@acme.test";

fn acme() -> Platform {
    let platform = Platform::new();
    platform.ok(
        None,
        &[
            "account", "create", "acme", "--owner", ALICE, "--tenant", "default",
        ],
    );
    platform
}

#[test]
fn r_env_2_an_up_over_the_daily_quota_runs_nothing_and_records_nothing() {
    let platform = acme();
    platform.ok(Some(ALICE), &["policy", "set", "--envs-per-day", "1"]);
    let first = platform.ok(Some(ALICE), &["env", "up", "first", "-o", "json"]);
    let env: serde_json::Value = serde_json::from_str(&first.stdout).expect("env JSON");
    assert_eq!(env["status"], "ready", "{}", first.stderr);

    let refused = platform.run_as(Some(ALICE), &["env", "up", "second"]);
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("quota reached"),
        "the refusal says which limit: {}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("Running terraform"),
        "Terraform ran for a refused env: {}",
        refused.stderr
    );
    assert_eq!(platform.env_names(ALICE), vec!["first".to_owned()]);
    platform.ok(Some(ALICE), &["env", "down", "first", "--yes"]);
}

#[test]
fn r_env_1_extend_never_shortens_an_env() {
    let platform = acme();
    let up = platform.ok(
        Some(ALICE),
        &["env", "up", "long", "--ttl", "2h", "-o", "json"],
    );
    let before: serde_json::Value = serde_json::from_str(&up.stdout).expect("env JSON");
    let extended = platform.run_as(Some(ALICE), &["env", "extend", "long", "30m", "-o", "json"]);
    let after = platform.ok(Some(ALICE), &["env", "show", "long", "-o", "json"]);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).expect("env JSON");
    let expiry = |env: &serde_json::Value| -> crate::api::Timestamp {
        serde_json::from_value(env["expires_at"].clone()).expect("an expiry time")
    };
    assert!(
        expiry(&after) >= expiry(&before),
        "extend 30m moved the expiry of a 2h env from {} to {} ({})",
        before["expires_at"],
        after["expires_at"],
        extended.stderr
    );
    platform.ok(Some(ALICE), &["env", "down", "long", "--yes"]);
}

#[test]
fn output_goes_to_the_injected_sinks_data_to_stdout_and_words_to_stderr() {
    let platform = acme();
    let listed = platform.ok(None, &["account", "list", "-o", "json"]);
    let accounts: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert!(
        accounts
            .as_array()
            .is_some_and(|all| all.iter().any(|a| a["slug"] == "acme")),
        "{}",
        listed.stdout
    );
    let bad = platform.run_as(None, &["account", "create", "Not A Slug", "--owner", ALICE]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("invalid account slug"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stdout.is_empty(),
        "an error printed data: {}",
        bad.stdout
    );
    assert!(bad.stderr.contains("error:"), "{}", bad.stderr);
    let again = platform.ok(None, &["account", "list", "-o", "json"]);
    assert_eq!(
        again.stdout, listed.stdout,
        "a refused create changed the accounts"
    );
}
