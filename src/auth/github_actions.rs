//! The ID token GitHub Actions gives a job with `permissions: id-token: write`: requested from
//! the runner's `ACTIONS_ID_TOKEN_REQUEST_URL` for one audience, as `@actions/core`'s
//! `getIDToken` does. It lasts about five minutes, so plat asks for a fresh one per command and
//! stores none.

use std::time::Duration;

use serde::Deserialize;

use super::Secret;
use crate::config::Env;
use crate::service::Error;

pub const REQUEST_URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const REQUEST_TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// The audience `plat login --github-actions` asks for unless told otherwise; a trust rule's
/// `--audience` default.
pub const DEFAULT_AUDIENCE: &str = "plat";

/// The runner answers within seconds; a hung request must not hold the job.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts on a failed connection or a 5xx, as `getIDToken` retries.
const ATTEMPTS: u32 = 3;

#[derive(Deserialize)]
struct IdTokenResponse {
    value: Option<String>,
}

/// Whether this process runs in a GitHub Actions job that may request ID tokens.
pub fn available(env: &Env) -> bool {
    env.get(REQUEST_URL_VAR).is_some() && env.get(REQUEST_TOKEN_VAR).is_some()
}

/// A fresh ID token of this job for `audience`.
pub async fn id_token(env: &Env, audience: &str) -> Result<Secret, Error> {
    let (Some(url), Some(bearer)) = (env.get(REQUEST_URL_VAR), env.get(REQUEST_TOKEN_VAR)) else {
        return Err(Error::unauthenticated(format!(
            "no GitHub Actions ID token to log in with: {REQUEST_URL_VAR} and \
             {REQUEST_TOKEN_VAR} are not set"
        ))
        .with_hint(
            "give the job `permissions: id-token: write` (pull requests from forks never get \
             an ID token; use login: token there)",
        ));
    };
    let mut url = reqwest::Url::parse(url)
        .map_err(|err| Error::invalid(format!("{REQUEST_URL_VAR} is not a URL: {err}")))?;
    url.query_pairs_mut().append_pair("audience", audience);
    let http = super::http_client(REQUEST_TIMEOUT)
        .map_err(|err| Error::internal(format!("cannot build the HTTP client: {err}")))?;
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        let sent = http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("bearer {bearer}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let retry = match &sent {
            Ok(response) => response.status().is_server_error(),
            Err(_) => true,
        };
        if !retry || attempt >= ATTEMPTS {
            break sent;
        }
        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
    };
    let response = response.map_err(|err| {
        Error::unavailable(format!(
            "cannot reach the GitHub Actions token service: {err}"
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::unauthenticated(format!(
            "GitHub Actions refused the ID token request for audience '{audience}' ({status})"
        ))
        .with_hint("check the job's `permissions: id-token: write`"));
    }
    let body: IdTokenResponse = response.json().await.map_err(|err| {
        Error::unauthenticated(format!(
            "the GitHub Actions token service answered without a token: {err}"
        ))
    })?;
    match body.value.filter(|value| !value.trim().is_empty()) {
        Some(value) => Ok(Secret::new(value.trim())),
        None => Err(Error::unauthenticated(
            "the GitHub Actions token service answered without a token",
        )),
    }
}
