//! The HTTP API seen by an attacker: every route of the OpenAPI document × {no token, another
//! account's token, a foreign tenant's host}; nothing may leak and nothing may change (R-SEC-*).

use crate::services::{idp, runtime};
use crate::support::{ALICE, BOB, Backend, TestEnv, with_backend};

const CAROL: &str = "carol@globex.test";

struct Api {
    base: String,
}

struct Answer {
    status: u16,
    body: String,
}

impl Api {
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let base = self.base.clone();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let token = token.map(str::to_owned);
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let path = path.to_owned();
        runtime().block_on(async move {
            let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let response = request.send().await.unwrap();
            Answer {
                status: response.status().as_u16(),
                body: response.text().await.unwrap(),
            }
        })
    }
}

/// acme (alice) and acme-shop (bob, tenant acme-portal) from the usual fixture, plus globex
/// (carol), a sibling tree under the master account that neither may see.
fn platform() -> (TestEnv, Api) {
    let env = TestEnv::new();
    env.acme();
    env.ok(&[
        "account",
        "create",
        "globex",
        "--owner",
        CAROL,
        "--tenant",
        "default",
        "--role",
        "user-admin",
    ]);
    env.ok_as(
        CAROL,
        &[
            "group",
            "create",
            "globex-secret-group",
            "--permission",
            "envs:write",
        ],
    );
    let api = Api {
        base: env.server.as_ref().unwrap().url.clone(),
    };
    (env, api)
}

/// Every (method, path) of the OpenAPI document, with globex's resources in the path.
fn routes(api: &Api) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(
        &api.send("GET", "/api/v1/openapi.json", None, &[], None)
            .body,
    )
    .unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{slug}", "globex")
                .replace("{name}", "globex-secret-group")
                .replace("{email}", CAROL)
                .replace("{id}", "globex-env-id");
            routes.push((method.to_uppercase(), concrete));
        }
    }
    assert!(
        routes.len() >= 15,
        "the OpenAPI document lists the routes: {routes:?}"
    );
    routes
}

fn is_public(path: &str) -> bool {
    path.ends_with("/auth/config")
        || path.ends_with("/openapi.json")
        || !path.starts_with("/api/v1/")
}

/// What the caller may not learn: globex's names, unless the caller put them in the request.
fn assert_no_leak(what: &str, answer: &Answer) {
    assert!(answer.status != 500, "{what}: 500 {}", answer.body);
    for secret in ["globex-secret-group", CAROL, "globex"] {
        if what.contains(secret) {
            continue;
        }
        assert!(
            !answer.body.contains(secret),
            "{what} leaks {secret}: {} {}",
            answer.status,
            answer.body
        );
    }
    if answer.status >= 400 {
        let body: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {}", answer.body));
        assert!(body["error"]["code"].is_string(), "{what}: {}", answer.body);
    }
}

#[test]
fn r_sec_3_every_route_refuses_strangers_and_leaks_nothing() {
    with_backend(Backend::ServerSqlite, || {
        let (env, api) = platform();
        let before = env.dump();
        let alice = idp().token(ALICE);
        let bob = idp().token(BOB);
        let body = Some(r#"{"slug":"x-probe","name":"x-probe","owner":"probe@x.test","tenant":"default","email":"probe@x.test","domain":"probe.x.test","permissions":[],"succeeded":true,"seconds":600,"template":"demo","params":{}}"#.to_owned());
        for (method, path) in routes(&api) {
            if is_public(&path) {
                continue;
            }
            let body = (method != "GET" && method != "DELETE").then(|| body.clone().unwrap());
            let anonymous = api.send(&method, &path, None, &[], body.clone());
            assert_eq!(
                anonymous.status, 401,
                "{method} {path} without a token: {}",
                anonymous.body
            );
            assert_no_leak(&format!("{method} {path} anonymous"), &anonymous);
            if path.ends_with("/webhook") {
                // Signed by the caller, not by a token: any unverified call is the same 401
                // whoever sends it (tests/cli/automation_triggers.rs).
                let other = api.send(
                    &method,
                    &path,
                    Some(&alice),
                    &[("x-plat-account", "globex")],
                    body.clone(),
                );
                assert_eq!(
                    (other.status, &other.body),
                    (anonymous.status, &anonymous.body),
                    "{method} {path}"
                );
                continue;
            }

            let other = api.send(&method, &path, Some(&alice), &[], body.clone());
            assert_no_leak(&format!("{method} {path} as alice"), &other);
            if path.contains("globex") {
                // Exactly the answer for something that does not exist at all.
                let missing_path = path
                    .replace(CAROL, "nobody@nowhere.test")
                    .replace("globex", "nowhere");
                let missing = api.send(&method, &missing_path, Some(&alice), &[], body.clone());
                assert_eq!(
                    (
                        other.status,
                        other
                            .body
                            .replace(CAROL, "nobody@nowhere.test")
                            .replace("globex", "nowhere")
                    ),
                    (missing.status, missing.body),
                    "{method} {path} as alice"
                );
                // Idempotent `down` answers `null` for an env that is not there, and a body the
                // route cannot read is refused before any lookup: both answer exactly as for a
                // missing resource (asserted above), so neither tells the caller anything.
                let idempotent_nothing = other.status == 200 && other.body == "null";
                assert!(
                    matches!(other.status, 400 | 403 | 404) || idempotent_nothing,
                    "{method} {path} as alice: {}",
                    other.body
                );
            }
            let in_globex = api.send(
                &method,
                &path,
                Some(&alice),
                &[("x-plat-account", "globex")],
                body.clone(),
            );
            assert_no_leak(&format!("{method} {path} as alice in globex"), &in_globex);
            assert_eq!(
                in_globex.status, 404,
                "{method} {path} as alice in globex: {}",
                in_globex.body
            );

            // bob's account lives in tenant acme-portal: on the default tenant's host he is unknown (R-TEN-5).
            let wrong_host = api.send(
                &method,
                &path,
                Some(&bob),
                &[("host", "localhost")],
                body.clone(),
            );
            assert_no_leak(&format!("{method} {path} as bob on localhost"), &wrong_host);
            assert_eq!(
                wrong_host.status, 401,
                "{method} {path} as bob on a foreign tenant host: {}",
                wrong_host.body
            );
        }
        // Everything alice tried above in her own account was rolled back or refused except the
        // probes that she may legitimately create; globex itself is untouched.
        let after = env.dump();
        let globex_rows = |dump: &str| {
            dump.lines()
                .filter(|l| l.contains("globex"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(globex_rows(&before), globex_rows(&after));
        // On its own tenant's host bob is known.
        let home = api.send(
            "GET",
            "/api/v1/whoami",
            Some(&bob),
            &[("host", "portal.acme.test")],
            None,
        );
        assert_eq!(home.status, 200, "{}", home.body);
    });
}

#[test]
fn malformed_and_oversized_bodies_get_a_json_400_or_413() {
    with_backend(Backend::ServerSqlite, || {
        let (env, api) = platform();
        let before = env.dump();
        let token = idp().token("operator@localhost");
        let malformed = api.send(
            "POST",
            "/api/v1/accounts",
            Some(&token),
            &[],
            Some("{\"slug\": ".into()),
        );
        assert_eq!(malformed.status, 400, "{}", malformed.body);
        assert_no_leak("malformed", &malformed);
        let mistyped = api.send(
            "POST",
            "/api/v1/accounts",
            Some(&token),
            &[],
            Some("{\"slug\": 42}".into()),
        );
        assert!(
            mistyped.status == 400 || mistyped.status == 422,
            "{}",
            mistyped.body
        );
        assert_no_leak("mistyped", &mistyped);
        let huge = format!(
            "{{\"slug\":\"big\",\"owner\":\"o@x.test\",\"tenant\":\"default\",\"name\":\"{}\"}}",
            "x".repeat(200 * 1024)
        );
        let oversized = api.send("POST", "/api/v1/accounts", Some(&token), &[], Some(huge));
        assert_eq!(oversized.status, 413, "{}", oversized.body);
        assert_no_leak("oversized", &oversized);
        assert_eq!(before, env.dump());
    });
}

#[test]
fn the_openapi_document_is_served_and_matches_plat_server_openapi() {
    with_backend(Backend::ServerSqlite, || {
        let env = TestEnv::new();
        let api = Api {
            base: env.server.as_ref().unwrap().url.clone(),
        };
        let served: serde_json::Value = serde_json::from_str(
            &api.send("GET", "/api/v1/openapi.json", None, &[], None)
                .body,
        )
        .unwrap();
        let printed = env.ok(&["server", "openapi"]).json();
        assert_eq!(served, printed);
        assert!(served["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/api/v1/accounts",
            "/api/v1/accounts/{slug}",
            "/api/v1/whoami",
            "/api/v1/groups/{name}/members",
        ] {
            assert!(served["paths"][path].is_object(), "{path} missing");
        }
        let health = api.send("GET", "/healthz", None, &[], None);
        assert_eq!(health.status, 200);
        let ready = api.send("GET", "/readyz", None, &[], None);
        assert_eq!(ready.status, 200);
        let metrics = api.send("GET", "/metrics", None, &[], None);
        assert!(metrics.body.contains("http_requests"), "{}", metrics.body);
    });
}

/// Clients generated from the OpenAPI document must put each parameter where the server reads it.
#[test]
fn the_openapi_document_declares_path_parameters_only_for_path_segments() {
    let output = std::process::Command::new(crate::support::BIN)
        .args(["server", "openapi"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut misplaced = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                if (parameter["in"] == "path") != in_path {
                    misplaced.push(format!("{method} {path}: {name} in {}", parameter["in"]));
                }
            }
        }
    }
    assert!(misplaced.is_empty(), "{misplaced:#?}");
}

/// R-ENV-1: a template's lifetime limits are the platform's to read from the template it
/// resolves; a client that sends limits of its own (as clients once did) gains nothing, and an
/// unknown template is refused before anything is recorded.
#[test]
fn r_env_1_the_server_reads_template_limits_itself_and_ignores_the_callers() {
    with_backend(Backend::ServerSqlite, || {
        let (env, api) = platform();
        env.ok(&["policy", "set", "--envs-per-day", "5"]);
        let before = env.dump();
        let token = idp().token("operator@localhost");
        // The demo template allows 4 h; the policy 8 h. The caller claims the template allows 8 h.
        let widened = r#"{"name":"wide","template":"demo","params":{},"ttl_seconds":21600,"template_ttl_default_seconds":21600,"template_ttl_max_seconds":28800}"#;
        let refused = api.send(
            "POST",
            "/api/v1/envs",
            Some(&token),
            &[],
            Some(widened.into()),
        );
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert!(
            refused.body.contains("exceeds the maximum of 4h"),
            "{}",
            refused.body
        );
        let unknown =
            r#"{"name":"ghost","template":"no-such-template","params":{},"ttl_seconds":null}"#;
        let refused = api.send(
            "POST",
            "/api/v1/envs",
            Some(&token),
            &[],
            Some(unknown.into()),
        );
        assert_eq!(refused.status, 404, "{}", refused.body);
        assert_eq!(before, env.dump(), "a refused env changed nothing");
    });
}
