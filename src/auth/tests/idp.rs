//! Starts the real test IdP (`tests/support/idp/idp.mjs`, oidc-provider) on a free loopback port.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::auth::{DeviceAuthorization, OidcConfig};

pub const CLIENT_ID: &str = "plat-cli";
pub const AUDIENCE: &str = "urn:plat:api";

/// The crate root, found from this file's path so that it works both in the main crate
/// (relative `file!()`) and in a helper crate mounting the module by absolute `#[path]`.
fn project_root() -> PathBuf {
    let this_file = PathBuf::from(file!());
    let this_file = if this_file.is_absolute() {
        this_file
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(this_file)
    };
    this_file
        .ancestors()
        .nth(4)
        .expect("src/auth/tests/idp.rs lies four levels below the crate root")
        .to_path_buf()
}

pub struct Idp {
    pub issuer: String,
    pub control: IdpControl,
    _child: Child,
    // Held open: the IdP exits when its stdin closes, so a crashed test cannot leak it.
    _stdin: ChildStdin,
}

/// Cloneable handle on the IdP's `/test/*` routes, usable from a spawned task.
#[derive(Clone)]
pub struct IdpControl {
    issuer: String,
    http: reqwest::Client,
}

impl Idp {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let idp_dir = project_root().join("tests/support/idp");
        assert!(
            idp_dir.join("node_modules/oidc-provider").is_dir(),
            "run `npm ci` in {} first",
            idp_dir.display()
        );
        let mut child = Command::new("node")
            .arg("idp.mjs")
            .current_dir(&idp_dir)
            .env("IDP_PORT", "0")
            .env("IDP_EXIT_ON_STDIN_EOF", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(idp_log())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (Debian package `nodejs`)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first_line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut first_line),
        )
        .await
        .expect("IdP printed READY within 30 s")
        .expect("IdP stdout readable");
        let issuer = first_line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected first IdP line: {first_line:?}"))
            .to_owned();
        Self {
            control: IdpControl {
                issuer: issuer.clone(),
                http: super::test_http(),
            },
            issuer,
            _child: child,
            _stdin: stdin,
        }
    }

    pub fn config(&self) -> OidcConfig {
        OidcConfig::new(&self.issuer, CLIENT_ID)
    }
}

/// `PLAT_TEST_IDP_LOG=<file>` keeps the IdP's stderr (add `IDP_VERBOSE=1` for every request).
fn idp_log() -> Stdio {
    match std::env::var_os("PLAT_TEST_IDP_LOG") {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null()),
        None => Stdio::null(),
    }
}

impl IdpControl {
    pub async fn post(&self, route: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{route}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {route}: {err}"));
        let status = response.status();
        let answer: Value = response.json().await.expect("IdP answers JSON");
        assert!(status.is_success(), "POST {route} -> {status}: {answer}");
        answer
    }

    pub async fn approve(&self, user_code: &str, sub: &str, email: &str) {
        let answer = self
            .post(
                "/test/approve",
                json!({"user_code": user_code, "sub": sub, "email": email}),
            )
            .await;
        assert_eq!(answer["approved"], true, "{answer}");
    }

    pub async fn deny(&self, user_code: &str) {
        self.post("/test/deny", json!({"user_code": user_code}))
            .await;
    }

    pub async fn set_ttl(&self, settings: Value) {
        self.post("/test/ttl", settings).await;
    }

    pub async fn revoke_refresh(&self, sub: &str) -> Value {
        self.post("/test/revoke-refresh", json!({"sub": sub})).await
    }
}

/// A device prompt that records what it was shown and forwards it to a task that acts on it.
pub fn forwarding_prompt() -> (
    impl Fn(&DeviceAuthorization) + Send + Sync,
    mpsc::UnboundedReceiver<DeviceAuthorization>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let prompt = move |device: &DeviceAuthorization| {
        let _ = sender.send(device.clone());
    };
    (prompt, receiver)
}

/// A prompt that approves the code as `sub`/`email` as soon as it is shown.
pub fn approving_prompt(
    control: &IdpControl,
    sub: &'static str,
    email: &'static str,
) -> (
    impl Fn(&DeviceAuthorization) + Send + Sync,
    tokio::task::JoinHandle<DeviceAuthorization>,
) {
    let (prompt, mut shown) = forwarding_prompt();
    let control = control.clone();
    let approver = tokio::spawn(async move {
        let device = shown.recv().await.expect("the prompt was shown");
        control.approve(&device.user_code, sub, email).await;
        device
    });
    (prompt, approver)
}
