//! The real components the tests talk to, started once per test run and stopped when it ends:
//! the OpenID Connect provider (oidc-provider from npm) and a PostgreSQL cluster.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const AUDIENCE: &str = "urn:plat:api";

/// A loopback port that no other test of this run is given, free when chosen. Ports come in
/// turn from below Linux's ephemeral range (32768-60999), where the kernel never places a
/// socket bound to port 0: a port chosen now is still free when a server binds it seconds
/// later, however many other servers start meanwhile. The start depends on the process id,
/// so that two test runs at once are unlikely to share ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % COUNT;
    for _ in 0..COUNT {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (start + offset) % COUNT).expect("below 32768");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!(
        "no free loopback port between {FIRST} and {}",
        FIRST + COUNT
    )
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A runtime for a test's own async calls (the store, HTTP); one thread, as plat's CLI uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub struct Idp {
    pub issuer: String,
    _process: Child,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

/// The identity provider, shared by every test of this run.
pub fn idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| Idp::spawn(&[]))
}

impl Idp {
    /// A private IdP for tests that change its settings (`IDP_*` variables, see its README).
    pub fn spawn(settings: &[(&str, &str)]) -> Idp {
        plat::install_crypto();
        let dir = repo().join("tests/support/idp");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in {} (scripts/test.sh does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("idp.mjs")
            .current_dir(&dir)
            .env("IDP_PORT", "0")
            // The IdP exits when this test process (holding its stdin) goes away.
            .env("IDP_EXIT_ON_STDIN_EOF", "1")
            .env("IDP_ENFORCE_INTERVAL", "0")
            .envs(settings.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the IdP (node)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line
            .trim()
            .strip_prefix("READY ")
            .expect("IdP READY line")
            .to_owned();
        // Keep stdin open for the life of the process by leaking the handle into the struct.
        Idp {
            issuer,
            _process: child,
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl Idp {
    /// A fresh access token for `email` (subject = the e-mail's local part), obtained through the
    /// real device flow with the user's part done by the IdP's test route.
    pub fn token(&self, email: &str) -> String {
        if let Some((token, at)) = self.tokens.lock().unwrap().get(email)
            && at.elapsed() < Duration::from_secs(200)
        {
            return token.clone();
        }
        let subject = email.split('@').next().unwrap().to_owned();
        let token = runtime().block_on(self.device_flow(&subject, email, AUDIENCE));
        self.tokens
            .lock()
            .unwrap()
            .insert(email.to_owned(), (token.clone(), Instant::now()));
        token
    }

    pub async fn device_flow(&self, subject: &str, email: &str, resource: &str) -> String {
        let http = reqwest::Client::new();
        let start: serde_json::Value = http
            .post(format!("{}/device/auth", self.issuer))
            .form(&[
                ("client_id", "plat-cli"),
                ("scope", "openid email profile offline_access"),
                ("resource", resource),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user_code = start["user_code"].as_str().expect("user_code").to_owned();
        let device_code = start["device_code"].as_str().unwrap().to_owned();
        self.approve(&user_code, subject, email).await;
        let tokens: serde_json::Value = http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code.as_str()),
                ("client_id", "plat-cli"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {tokens}"))
            .to_owned()
    }

    pub async fn approve(&self, user_code: &str, subject: &str, email: &str) {
        let status = reqwest::Client::new()
            .post(format!("{}/test/approve", self.issuer))
            .json(&serde_json::json!({ "user_code": user_code, "sub": subject, "email": email }))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "approve failed: {status}");
    }

    pub fn post(&self, route: &str, body: serde_json::Value) -> serde_json::Value {
        runtime().block_on(async {
            reqwest::Client::new()
                .post(format!("{}{route}", self.issuer))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }
}

pub struct Postgres {
    pub port: u16,
    _watchdog: Child,
    _dir: tempfile::TempDir,
    next_db: Mutex<u32>,
}

pub fn pg_bin(name: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<_> = std::fs::read_dir(base)
        .expect("PostgreSQL is installed")
        .flatten()
        .map(|e| e.path())
        .collect();
    versions.sort();
    versions.last().unwrap().join("bin").join(name)
}

/// A PostgreSQL cluster in a temp dir on a free port, run as the `postgres` user (initdb refuses root).
pub fn postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("sock");
        std::fs::create_dir_all(&socket_dir).unwrap();
        let as_postgres = |program: PathBuf| {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        };
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        let _ = Command::new("chmod").args(["755"]).arg(dir.path()).status();
        let ok = as_postgres(pg_bin("initdb"))
            .args(["-D"]).arg(&data).args(["-U", "plat", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success();
        assert!(ok, "initdb failed");
        let port = free_port();
        let parent = std::process::id();
        // The watchdog stops the cluster once this test process has gone (`kill -0` would fail with
        // EPERM: the watchdog runs as `postgres`, the test as root), then removes its files: the
        // static holding the TempDir is never dropped.
        let script = format!(
            "{pg} -D {data} -p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 & pid=$!; \
             while [ -d /proc/{parent} ]; do sleep 1; done; kill $pid; wait $pid; rm -rf {dir}",
            pg = pg_bin("postgres").display(), data = data.display(), sock = socket_dir.display(),
            dir = dir.path().display()
        );
        let watchdog = Command::new("runuser").args(["-u", "postgres", "--", "sh", "-c", &script])
            .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Postgres { port, _watchdog: watchdog, _dir: dir, next_db: Mutex::new(0) }
    })
}

impl Postgres {
    /// A new empty database for one test.
    pub fn database(&self) -> String {
        let name = {
            let mut next = self.next_db.lock().unwrap();
            *next += 1;
            format!("t{}_{}", std::process::id(), *next)
        };
        let admin = format!("postgres://plat@127.0.0.1:{}/postgres", self.port);
        runtime().block_on(async {
            let store = loop {
                match plat::internals::Store::connect(&admin, 1).await {
                    Ok(store) => break store,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&store.pool)
                .await
                .unwrap();
            store.pool.close().await;
        });
        format!("postgres://plat@127.0.0.1:{}/{name}", self.port)
    }
}

/// A running `plat server`, stopped when dropped.
pub struct Server {
    pub url: String,
    pub database_url: String,
    pub process: Child,
}

impl Server {
    pub fn start(database_url: String, data_dir: &Path) -> Self {
        Self::start_trusting(&idp().issuer, database_url, data_dir)
    }

    /// A server that trusts the tokens of `issuer` only.
    pub fn start_trusting(issuer: &str, database_url: String, data_dir: &Path) -> Self {
        Self::start_with(issuer, database_url, data_dir, &[])
    }

    /// A server with extra environment, e.g. a shifted clock for its reaper.
    pub fn start_with(
        issuer: &str,
        database_url: String,
        data_dir: &Path,
        vars: &[(&str, &str)],
    ) -> Self {
        Self::start_logging(issuer, database_url, data_dir, vars, None)
    }

    /// `start_with`, its log (stderr) written to `log` when given.
    pub fn start_logging(
        issuer: &str,
        database_url: String,
        data_dir: &Path,
        vars: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Self {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("server log file")),
            None => Stdio::null(),
        };
        let port = free_port();
        let process = Command::new(crate::support::BIN)
            .args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database_url])
            .args(["--oidc-issuer", issuer, "--oidc-audience", AUDIENCE])
            .args(["--bootstrap-admin", "operator@localhost"])
            .env("PLAT_DATA_DIR", data_dir)
            .env("PLAT_CONFIG_DIR", data_dir)
            .env("PLAT_LOG", "warn")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start plat server");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "plat server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            url,
            database_url,
            process,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A RabbitMQ broker (Debian's rabbitmq-server) as a private Erlang node on free ports, with its
/// data in a temp dir; stopped by a watchdog once the test process has gone.
pub struct RabbitMq {
    pub url: String,
    node: String,
    home: PathBuf,
    _watchdog: Child,
    _dir: tempfile::TempDir,
}

const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";

pub fn rabbitmq() -> &'static RabbitMq {
    static RABBIT: OnceLock<RabbitMq> = OnceLock::new();
    RABBIT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        std::fs::write(home.join("enabled_plugins"), "[].\n").unwrap();
        let port = free_port();
        let node = format!("plat-test-{}@localhost", std::process::id());
        let parent = std::process::id();
        // Stopped once this test process has gone, then its files removed (the static holding
        // the TempDir is never dropped).
        let script = format!(
            "{RABBITMQ_BIN}/rabbitmq-server & pid=$!; \
             while [ -d /proc/{parent} ]; do sleep 1; done; \
             {RABBITMQ_BIN}/rabbitmqctl -n {node} stop >/dev/null 2>&1 || kill $pid; wait $pid; \
             rm -rf {dir}",
            dir = home.display()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .envs(rabbitmq_env(&home, &node))
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_MNESIA_BASE", home.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", home.join("log"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                home.join("enabled_plugins"),
            )
            .env("RABBITMQ_CONFIG_FILE", home.join("rabbitmq"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rabbitmq-server (scripts/install-deps.sh --test installs it)");
        let rabbit = RabbitMq {
            url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            node,
            home,
            _watchdog: watchdog,
            _dir: dir,
        };
        rabbit.await_startup();
        rabbit
    })
}

fn rabbitmq_env(home: &Path, node: &str) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), home.display().to_string()),
        ("RABBITMQ_NODENAME".into(), node.to_owned()),
        ("ERL_EPMD_ADDRESS".into(), "127.0.0.1".into()),
    ]
}

impl RabbitMq {
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) {
        assert!(self.try_ctl(args), "rabbitmqctl {args:?} failed");
    }

    fn try_ctl(&self, args: &[&str]) -> bool {
        Command::new(format!("{RABBITMQ_BIN}/rabbitmqctl"))
            .args(["-n", &self.node])
            .args(args)
            .envs(rabbitmq_env(&self.home, &self.node))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// `await_startup` fails at once while the node is not yet reachable: ask until it answers.
    fn await_startup(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !self.try_ctl(&["await_startup", "--timeout", "30"]) {
            assert!(Instant::now() < deadline, "RabbitMQ did not start");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stops and starts the broker application: every connection drops, durable queues and
    /// persistent messages survive, as in a broker restart.
    pub fn restart(&self) {
        self.ctl(&["stop_app"]);
        // On a loaded machine `start_app` can fail while the node is still settling after the
        // stop (seen in CI); ask again until it starts.
        let deadline = Instant::now() + Duration::from_secs(90);
        while !self.try_ctl(&["start_app"]) {
            assert!(Instant::now() < deadline, "RabbitMQ did not start again");
            std::thread::sleep(Duration::from_millis(500));
        }
        self.await_startup();
    }
}
