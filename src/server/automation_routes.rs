//! Automation routes. Thin like the others: the service decides. Runs are executed by the
//! client that starts them, which reports each step here.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{
    ApplyAutomation, Automation, AutomationApplied, AutomationRun, ErrorBody, RunLogs, RunReport,
    RunStarted, StartRun,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
