//! The `webhook` runner: starts a flow (n8n, Node-RED) by POSTing the run to its URL, signed so
//! the flow can tell a platform run from anyone who learnt the URL.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::definition::WebhookRunner;
use super::executor::{Executor, Retry, RunInfo, StepLog, read_body, send_with_retries};

/// `sha256=<hex>` of the HMAC-SHA256 of the exact body bytes, as GitHub signs its webhooks.
pub const SIGNATURE_HEADER: &str = "X-Plat-Signature-256";
/// Lets a flow drop the retry of a request it already took.
pub const RUN_ID_HEADER: &str = "X-Plat-Run-Id";
/// How much of a refusal's body goes into the run's error.
const EXCERPT: usize = 200;

pub(super) async fn call(
    executor: &Executor,
    hook: &WebhookRunner,
    run: &RunInfo,
    params: &Value,
    attempts: &mut u32,
    log: &StepLog,
) -> Result<Value, (String, Value)> {
    let fail = |message: String| (message, Value::Null);
    let body = json!({
        "run_id": run.id,
        "automation": run.automation,
        "account": run.account,
        "owner": run.owner,
        "params": params,
    })
    .to_string();
    let signature = match &hook.secret_env {
        None => None,
        Some(name) => {
            let secret = executor.environment(name).ok_or_else(|| {
                fail(format!(
                    "the webhook is signed with ${name}, which is not set where this run executes"
                ))
            })?;
            Some(sign(secret.as_bytes(), body.as_bytes()))
        }
    };
    let timeout = hook.timeout.as_deref().and_then(super::parse_duration);
    let client = executor
        .http_client()
        .map_err(|message| (message, serde_json::Value::Null))?;
    let build = || {
        let mut request = client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(RUN_ID_HEADER, &run.id)
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        request
    };
    let label = format!("POST {}", hook.url);
    let retry = Retry::from_input(hook.retries.map(u64::from), hook.backoff.as_deref());
    let response = send_with_retries(build, &label, retry, attempts, log)
        .await
        .map_err(fail)?;
    let code = response.status().as_u16();
    let body = read_body(response, &label).await.map_err(fail)?;
    log.line(format!("{label} -> {code}"));
    let output = json!({ "status": code, "body": body });
    if !(200..300).contains(&code) {
        return Err((
            format!("{label} answered {code}: {}", excerpt(&body)),
            output,
        ));
    }
    Ok(output)
}

pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn excerpt(body: &Value) -> String {
    let text = match body {
        Value::String(text) => text.trim().to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() <= EXCERPT {
        return text;
    }
    let cut: String = text.chars().take(EXCERPT).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn long_refusals_are_cut_in_the_error() {
        let long = Value::String("x".repeat(500));
        assert_eq!(excerpt(&long).chars().count(), EXCERPT + 1);
        assert_eq!(excerpt(&json!({"error": "no"})), r#"{"error":"no"}"#);
    }
}
