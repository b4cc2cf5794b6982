//! Automation routes. Thin like the others: the service decides. Runs are executed by the
//! client that starts them, which reports each step here, or queued for the server's workers
//! (`--detach`, and every trigger, such as the signed webhook below).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{
    ACCOUNT_HEADER, ApplyAutomation, Automation, AutomationApplied, AutomationRun, ErrorBody,
    RunLogs, RunReport, RunStarted, StartRun, WebhookAccepted,
};
use crate::service::automation_triggers::SIGNATURE_HEADER;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// Only the runs of this automation.
    pub automation: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/automations", tag = "automations", security(("bearer" = [])),
    responses((status = 200, body = Vec<Automation>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_automations(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<Automation>>> {
    Ok(Json(s.service.list_automations(&actor).await?))
}

#[utoipa::path(put, path = "/api/v1/automations", tag = "automations", security(("bearer" = [])), request_body = ApplyAutomation,
    responses((status = 200, body = AutomationApplied), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn apply_automation(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<ApplyAutomation>,
) -> ApiResult<Json<AutomationApplied>> {
    Ok(Json(s.service.apply_automation(&actor, req).await?))
}

#[utoipa::path(get, path = "/api/v1/automations/{name}", tag = "automations", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Automation), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_automation(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Automation>> {
    Ok(Json(s.service.get_automation(&actor, &name).await?))
}

#[utoipa::path(delete, path = "/api/v1/automations/{name}", tag = "automations", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_automation(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_automation(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/automations/{name}/runs", tag = "automations", security(("bearer" = [])), params(("name" = String, Path)), request_body = StartRun,
    responses((status = 200, body = RunStarted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start_run(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<StartRun>,
) -> ApiResult<Json<RunStarted>> {
    Ok(Json(
        s.service.start_automation_run(&actor, &name, req).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/automation-runs", tag = "automations", security(("bearer" = [])), params(RunListQuery),
    responses((status = 200, body = Vec<AutomationRun>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_runs(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<RunListQuery>,
) -> ApiResult<Json<Vec<AutomationRun>>> {
    Ok(Json(
        s.service
            .list_automation_runs(&actor, q.automation.as_deref())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/automation-runs/{id}", tag = "automations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AutomationRun), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AutomationRun>> {
    Ok(Json(s.service.get_automation_run(&actor, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/automation-runs/{id}/logs", tag = "automations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RunLogs), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn run_logs(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunLogs>> {
    Ok(Json(s.service.automation_run_logs(&actor, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/automation-runs/{id}/report", tag = "automations", security(("bearer" = [])), params(("id" = String, Path)), request_body = RunReport,
    responses((status = 200, body = AutomationRun), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn report_run(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(report): ApiJson<RunReport>,
) -> ApiResult<Json<AutomationRun>> {
    Ok(Json(
        s.service.report_automation_run(&actor, &id, report).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/automation-runs/{id}/cancel", tag = "automations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AutomationRun), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_run(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AutomationRun>> {
    Ok(Json(s.service.cancel_automation_run(&actor, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// Slug of the automation's account (or the `X-Plat-Account` header): webhook senders often
    /// cannot set headers.
    pub account: Option<String>,
}

/// Queues a run of a webhook-triggered automation. Not a bearer-token route: the caller proves
/// itself by signing the raw body with the automation's secret (HMAC-SHA256, hex, GitHub style).
/// The body arrives in the run as the parameter `event` (parsed when it is JSON). Any failure to
/// verify, including an unknown automation, is the same 401.
#[utoipa::path(post, path = "/api/v1/automations/{name}/webhook", tag = "automations",
    params(("name" = String, Path), WebhookQuery,
        ("X-Plat-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body under the automation's secret")),
    request_body(content = Object, description = "Any payload; JSON is parsed", content_type = "application/json"),
    responses((status = 202, body = WebhookAccepted), (status = 401, body = ErrorBody)))]
pub async fn webhook(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<WebhookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WebhookAccepted>)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let account = q.account.as_deref().or_else(|| header(ACCOUNT_HEADER));
    let run = s
        .service
        .fire_webhook(
            account,
            &name,
            header(SIGNATURE_HEADER),
            &body,
            &s.webhook_secrets,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(WebhookAccepted { run })))
}
