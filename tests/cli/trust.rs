//! R-GOV-5 / R-SEC-2: secretless login from GitHub Actions. An account admin trusts an external
//! issuer's tokens (`plat trust add`); `plat server` verifies them against that issuer's keys and
//! lets a matching token act as the rule's service identity, with the rule's group's permissions,
//! in the rule's account only. `plat login --github-actions` asks the runner for the job's ID
//! token, as the Actions toolkit does.
//!
//! The "GitHub" here is a second real oidc-provider (its tokens carry the claims GitHub
//! documents), and the runner's `ACTIONS_ID_TOKEN_REQUEST_URL` a loopback endpoint of this test
//! that mints each job token from that provider for the audience it is asked for.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;

use crate::services::{Idp, Server, runtime};
use crate::support::{ALICE, Backend, Outcome, TestEnv, with_backend};

/// The audience jobs ask for. oidc-provider wants resource indicators to be absolute URIs, so
/// not GitHub's usual bare `plat`.
pub(crate) const AUD: &str = "https://plat.acme.test";
/// The runner's bearer for the ID token endpoint (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
const REQUEST_TOKEN: &str = "runner-request-token";
const CAROL: &str = "carol@acme.test";
const IDENTITY: &str = "ci-shop@acme.trust.invalid";

/// The stand-in for token.actions.githubusercontent.com, shared by the tests of this run: a
/// job's claims are a function of its repository, ref and environment, so tests never disagree
/// about a subject's claims.
pub(crate) fn github() -> &'static Idp {
    static GITHUB: OnceLock<Idp> = OnceLock::new();
    GITHUB.get_or_init(|| Idp::spawn(&[("IDP_EMAIL_IN_ACCESS_TOKEN", "0")]))
}

/// A workflow job: what GitHub puts in its ID token.
#[derive(Clone)]
pub(crate) struct Job {
    pub(crate) repository: &'static str,
    pub(crate) git_ref: &'static str,
    pub(crate) environment: Option<&'static str>,
}

const SHOP_MAIN: Job = Job {
    repository: "acme/shop",
    git_ref: "refs/heads/main",
    environment: None,
};

impl Job {
    /// GitHub's `sub`: the environment, when the job has one, replaces the ref.
    fn subject(&self) -> String {
        match self.environment {
            Some(environment) => format!("repo:{}:environment:{environment}", self.repository),
            None => format!("repo:{}:ref:{}", self.repository, self.git_ref),
        }
    }

    /// Tells the IdP the claims of this job's tokens (the ones GitHub documents; `sub`, `iss`,
    /// `aud`, `exp`, `nbf`, `iat` are the IdP's own).
    fn register(&self, idp: &Idp) -> String {
        let owner = self.repository.split('/').next().unwrap();
        let mut claims = serde_json::json!({
            "repository": self.repository,
            "repository_id": "690000001",
            "repository_owner": owner,
            "repository_owner_id": "1000001",
            "repository_visibility": "private",
            "ref": self.git_ref,
            "ref_type": "branch",
            "sha": "5f1b2c0e9d4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c",
            "event_name": "push",
            "actor": "octocat",
            "actor_id": "583231",
            "workflow": "deploy",
            "workflow_ref": format!("{}/.github/workflows/deploy.yml@{}", self.repository, self.git_ref),
            "job_workflow_ref": format!("{}/.github/workflows/deploy.yml@{}", self.repository, self.git_ref),
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
        });
        if let Some(environment) = self.environment {
            claims["environment"] = environment.into();
        }
        let subject = self.subject();
        let answer = idp.post(
            "/test/claims",
            serde_json::json!({ "sub": subject, "claims": claims }),
        );
        assert!(answer.get("error").is_none(), "{answer}");
        subject
    }

    /// A fresh ID token of this job for `audience`.
    fn token(&self, idp: &Idp, audience: &str) -> String {
        let subject = self.register(idp);
        runtime().block_on(idp.device_flow(&subject, "runner@example.test", audience))
    }
}

/// The runner's ID token endpoint: `GET ?…&audience=A` with `Authorization: bearer
/// REQUEST_TOKEN` answers `{"value": <a fresh token of the job for A>}`; anything else 401.
pub(crate) struct Runner {
    url: String,
}

impl Runner {
    pub(crate) fn start(job: Job) -> Runner {
        job.register(github());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let target = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let authorized = text.lines().any(|line| {
                    line.to_ascii_lowercase() == format!("authorization: bearer {REQUEST_TOKEN}")
                });
                let audience = reqwest::Url::parse(&format!("http://runner{target}"))
                    .ok()
                    .and_then(|url| {
                        url.query_pairs()
                            .find(|(k, _)| k == "audience")
                            .map(|(_, v)| v.into_owned())
                    });
                let (status, body) = match (authorized, audience) {
                    (true, Some(audience)) => {
                        let token = job.token(github(), &audience);
                        ("200 OK", serde_json::json!({ "value": token }).to_string())
                    }
                    _ => (
                        "401 Unauthorized",
                        r#"{"message":"Bad credentials"}"#.to_owned(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Runner {
            // GitHub's URL already has a query; the audience is appended to it.
            url: format!("http://127.0.0.1:{port}/token?api-version=2.0"),
        }
    }

    pub(crate) fn vars(&self) -> [(&'static str, String); 3] {
        [
            ("GITHUB_ACTIONS", "true".into()),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", self.url.clone()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN.into()),
        ]
    }
}

/// Runs plat in the job: no PLAT_TOKEN, the runner's variables set.
fn in_job(env: &TestEnv, runner: &Runner, args: &[&str]) -> Outcome {
    let mut cmd = env.command(args);
    for (name, value) in runner.vars() {
        cmd.env(name, value);
    }
    Outcome::from(cmd.output().expect("run plat"))
}

fn server(env: &TestEnv) -> &Server {
    env.server.as_ref().expect("a server backend")
}

fn login_in_job(env: &TestEnv, runner: &Runner) -> Outcome {
    let url = server(env).url.clone();
    in_job(
        env,
        runner,
        &[
            "login",
            "--github-actions",
            "--server",
            &url,
            "--audience",
            AUD,
            "-o",
            "json",
        ],
    )
}

/// acme (alice) with a `deployers` group that may read envs and groups, trusting
/// `acme/shop`'s main branch with it.
fn acme_trusting_shop_main(env: &TestEnv) {
    env.acme();
    env.ok_as(
        ALICE,
        &[
            "group",
            "create",
            "deployers",
            "--permission",
            "envs:read",
            "--permission",
            "groups:read",
        ],
    );
    let rule = env
        .ok_as(
            ALICE,
            &[
                "trust",
                "add",
                "ci-shop",
                "--issuer",
                &github().issuer,
                "--audience",
                AUD,
                "--claim",
                "repository=acme/shop",
                "--claim",
                "ref=refs/heads/main",
                "--group",
                "deployers",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(rule["identity"], IDENTITY, "{rule}");
    assert_eq!(rule["group"], "deployers");
    assert_eq!(
        rule["claims"],
        serde_json::json!({ "ref": "refs/heads/main", "repository": "acme/shop" })
    );
}

fn config(env: &TestEnv) -> String {
    std::fs::read_to_string(env.config_dir().join("config.yaml")).unwrap_or_default()
}

on_every_server! {
    // R-GOV-5: the job logs in with its ID token, nothing secret is stored, and every later
    // command acts with exactly the group's permissions: reading groups yes, linking users no.
    fn r_gov_5_a_matching_job_acts_with_the_rules_group_and_stores_no_token() {
        let env = TestEnv::new();
        acme_trusting_shop_main(&env);
        let listed = env.ok_as(ALICE, &["trust", "list", "-o", "json"]).json();
        assert_eq!(listed[0]["name"], "ci-shop", "{listed}");
        let runner = Runner::start(SHOP_MAIN);

        let login = login_in_job(&env, &runner);
        login.success();
        assert_eq!(login.json()["user"], IDENTITY, "{}", login.transcript());
        assert_eq!(login.json()["account"], "acme");
        assert!(login.stderr.contains("no token stored"), "{}", login.stderr);
        let saved = config(&env);
        assert!(saved.contains(&format!("github_actions_audience: {AUD}")), "{saved}");
        assert!(!saved.contains("eyJ"), "a token in the config: {saved}");

        let me = in_job(&env, &runner, &["whoami", "-o", "json"]);
        me.success();
        assert_eq!(me.json()["permissions"], serde_json::json!(["envs:read", "groups:read"]));
        assert_eq!(me.json()["account"], "acme");
        let status = in_job(&env, &runner, &["auth", "status", "-o", "json"]);
        status.success();
        assert_eq!(status.json()["source"], "github-actions", "{}", status.transcript());
        assert_eq!(status.json()["issuer"], github().issuer.as_str());

        let groups = in_job(&env, &runner, &["group", "list", "-o", "json"]);
        groups.success();
        assert!(groups.stdout.contains("deployers"), "{}", groups.stdout);
        let refused = in_job(&env, &runner, &["user", "create", "mallory@acme.test"]);
        refused.failure(5);
        assert!(refused.stderr.contains("lacks the permission 'users:write'"), "{}", refused.stderr);
        // Not even the account owner's rights, nor an admin's trust management.
        in_job(&env, &runner, &["trust", "list"]).failure(5);

        // R-GOV-3: the rule's write and the job's refusal are on record, the job by its identity.
        let trail = env.ok_as(ALICE, &["audit", "list", "-o", "json"]).json();
        let events = trail.as_array().cloned().unwrap_or_default();
        assert!(
            events.iter().any(|e| e["action"] == "trust.add" && e["target"] == "ci-shop" && e["actor"] == ALICE),
            "{trail}"
        );
        assert!(
            events.iter().any(|e| e["actor"] == IDENTITY && e["outcome"] == "refused"),
            "{trail}"
        );

        // Deleted: the job's next command is refused.
        env.ok_as(ALICE, &["trust", "delete", "ci-shop", "--yes"]);
        let after = in_job(&env, &runner, &["whoami"]);
        after.failure(4);
        assert!(after.stderr.contains("its issuer is not trusted here"), "{}", after.stderr);
    }

    // R-GOV-5: a job of another repository gets exit 4, told which claim failed, and nothing
    // of the rule (its values, its account) and no login is saved.
    fn r_gov_5_a_repository_mismatch_is_refused_with_exit_4() {
        let env = TestEnv::new();
        acme_trusting_shop_main(&env);
        let before = config(&env);
        let runner = Runner::start(Job { repository: "acme/other", ..SHOP_MAIN });
        let login = login_in_job(&env, &runner);
        login.failure(4);
        assert!(
            login.stderr.contains("no trust rule accepts this token")
                && login.stderr.contains("repository ('acme/other')"),
            "{}",
            login.stderr
        );
        assert!(!login.stderr.contains("acme/shop") && !login.stderr.contains("ci-shop"), "{}", login.stderr);
        assert_eq!(config(&env), before, "a refused login saves nothing");
    }

    // R-GOV-5: the right repository from another branch gets exit 4, naming `ref`.
    fn r_gov_5_a_ref_mismatch_is_refused_with_exit_4() {
        let env = TestEnv::new();
        acme_trusting_shop_main(&env);
        let runner = Runner::start(Job { git_ref: "refs/heads/feature", ..SHOP_MAIN });
        let login = login_in_job(&env, &runner);
        login.failure(4);
        assert!(login.stderr.contains("ref ('refs/heads/feature')"), "{}", login.stderr);
        assert!(!login.stderr.contains("repository ("), "{}", login.stderr);
        // The matching job of an environment: a prefix rule on environments works too.
        env.ok_as(
            ALICE,
            &[
                "trust", "add", "ci-shop-prod", "--issuer", &github().issuer, "--audience", AUD,
                "--claim", "repository=acme/shop", "--claim", "environment=prod*",
                "--group", "deployers",
            ],
        );
        let prod = Runner::start(Job { environment: Some("production"), ..SHOP_MAIN });
        login_in_job(&env, &prod).success();
    }

    // R-SEC-2 / R-GOV-5: a rule of acme grants nothing in any other account: not its
    // sub-account, not its parent, not a sibling that trusts the same job with more.
    fn r_sec_2_a_rule_in_account_a_never_grants_anything_in_account_b() {
        let env = TestEnv::new();
        acme_trusting_shop_main(&env);
        env.ok(&["account", "create", "globex", "--owner", "gina@globex.test", "--role", "user-admin"]);
        let runner = Runner::start(SHOP_MAIN);
        // In a job that may request ID tokens, a plain `plat login` logs in with one.
        let url = server(&env).url.clone();
        in_job(&env, &runner, &["login", "--server", &url, "--audience", AUD]).success();
        for account in ["acme-shop", "platform", "globex"] {
            let out = in_job(&env, &runner, &["whoami", "--account", account]);
            out.failure(1);
            assert!(out.stderr.contains(&format!("account '{account}' not found")), "{}", out.stderr);
        }
        // globex trusts a job of its own repository with its admins; acme's job stays acme's.
        env.ok_as(
            "gina@globex.test",
            &[
                "trust", "add", "ci-globex", "--issuer", &github().issuer, "--audience", AUD,
                "--claim", "repository=globex/app", "--group", "admins",
            ],
        );
        let me = in_job(&env, &runner, &["whoami", "-o", "json"]);
        me.success();
        assert_eq!(me.json()["account"], "acme");
        let out = in_job(&env, &runner, &["env", "list", "--account", "globex"]);
        out.failure(1);
        let globex_job = Runner::start(Job { repository: "globex/app", ..SHOP_MAIN });
        let out = in_job(&env, &globex_job, &["group", "list", "--account", "acme"]);
        out.failure(1);
        assert!(out.stderr.contains("account 'acme' not found"), "{}", out.stderr);
    }

    // R-GOV-5: only an account admin adds rules; a refused or malformed request changes nothing.
    fn r_gov_5_trust_add_is_for_admins_and_bad_input_changes_nothing() {
        let env = TestEnv::new();
        acme_trusting_shop_main(&env);
        env.ok_as(ALICE, &["user", "create", CAROL]);
        let issuer = github().issuer.clone();
        let add = |name: &'static str, issuer: &str, claim: &'static str, group: &'static str| {
            vec![
                "trust".to_owned(), "add".into(), name.into(), "--issuer".into(), issuer.to_owned(),
                "--audience".into(), AUD.into(), "--claim".into(), claim.into(), "--group".into(),
                group.into(),
            ]
        };
        let cases = [
            (CAROL, add("ci-carol", &issuer, "repository=acme/shop", "deployers"), 5, "lacks the permission 'trust:manage'"),
            (ALICE, add("ci-bad", "not-a-url", "repository=acme/shop", "deployers"), 1, "invalid issuer 'not-a-url'"),
            (ALICE, add("ci-bad", "http://token.example.com", "repository=acme/shop", "deployers"), 1, "invalid issuer"),
            (ALICE, add("ci-bad", &issuer, "repository=acme/shop", "ghosts"), 1, "group 'ghosts' not found"),
            (ALICE, add("ci-bad", &issuer, "aud=plat", "deployers"), 1, "cannot be matched by a rule"),
            (ALICE, add("ci-bad", &issuer, "repository=*", "deployers"), 1, "invalid value for claim 'repository'"),
            (ALICE, add("ci-shop", &issuer, "repository=acme/shop", "deployers"), 1, "already exists"),
            (
                ALICE,
                add("ci-gh", "https://token.actions.githubusercontent.com", "ref=refs/heads/main", "deployers"),
                1,
                "must pin the repository",
            ),
        ];
        for (user, args, code, message) in cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = env.refused(Some(user), &args, code);
            assert!(out.stderr.contains(message), "{message}:\n{}", out.transcript());
        }
        // A malformed --claim is a usage error, refused before anything is sent.
        let before = env.dump();
        let out = env.run_as(ALICE, &add("ci-bad", &issuer, "repository", "deployers").iter().map(String::as_str).collect::<Vec<_>>());
        out.failure(2);
        assert!(out.stderr.contains("expected NAME=VALUE"), "{}", out.stderr);
        assert_eq!(before, env.dump());
        env.refused(Some(CAROL), &["trust", "delete", "ci-shop", "--yes"], 5);
        env.refused(Some(ALICE), &["trust", "delete", "ghost", "--yes"], 1);
        // The group is what a rule acts with: it is not deleted under it.
        env.refused(Some(ALICE), &["group", "delete", "deployers", "--yes"], 1);
    }

    // Clear errors in the job: no ID token variables, or a runner that refuses the request.
    fn r_gov_5_login_without_id_token_permission_says_what_to_add() {
        let env = TestEnv::new();
        let url = server(&env).url.clone();
        let out = env.run_plain(&["login", "--github-actions", "--server", &url]);
        out.failure(4);
        assert!(out.stderr.contains("permissions: id-token: write"), "{}", out.stderr);
        let runner = Runner::start(SHOP_MAIN);
        let mut cmd = env.command(&["login", "--github-actions", "--server", &url]);
        cmd.env("ACTIONS_ID_TOKEN_REQUEST_URL", &runner.url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "a-wrong-request-token");
        let out = Outcome::from(cmd.output().unwrap());
        out.failure(4);
        assert!(out.stderr.contains("refused the ID token request"), "{}", out.stderr);
    }
}

// R-GOV-5: an expired job token is refused, even one the server accepted before.
#[test]
fn r_gov_5_an_expired_job_token_is_refused() {
    with_backend(Backend::ServerSqlite, || {
        let short_lived = Idp::spawn(&[
            ("IDP_EMAIL_IN_ACCESS_TOKEN", "0"),
            ("IDP_ACCESS_TOKEN_TTL", "2"),
        ]);
        let env = TestEnv::new();
        env.acme();
        env.ok_as(
            ALICE,
            &["group", "create", "deployers", "--permission", "envs:read"],
        );
        env.ok_as(
            ALICE,
            &[
                "trust",
                "add",
                "ci-shop",
                "--issuer",
                &short_lived.issuer,
                "--audience",
                AUD,
                "--claim",
                "repository=acme/shop",
                "--group",
                "deployers",
            ],
        );
        let token = SHOP_MAIN.token(&short_lived, AUD);
        let with_token = |token: &str| {
            let mut cmd = env.command(&["whoami", "-o", "json"]);
            cmd.env("PLAT_TOKEN", token);
            Outcome::from(cmd.output().unwrap())
        };
        with_token(&token).success();
        // Past its expiry and the server's 5 s leeway.
        std::thread::sleep(std::time::Duration::from_secs(8));
        let out = with_token(&token);
        out.failure(4);
        assert!(out.stderr.contains("expired"), "{}", out.stderr);
    });
}
