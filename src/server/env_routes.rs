//! Environment routes, and Terraform's `http` state backend. Thin like the others: the service
//! decides.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{
    CreateEnv, DecideEnv, Env, EnvLogs, EnvOutcome, EnvPolicy, EnvQuota, EnvStarted, ErrorBody,
    ExtendEnv, SetEnvPolicy, SpendReport,
};
use crate::service::{Error, Identity};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnvListQuery {
    /// Include destroyed environments.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Seconds the caller may take to destroy the claimed environments (default 600).
    pub lease_seconds: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/envs", tag = "envs", security(("bearer" = [])), params(EnvListQuery),
    responses((status = 200, body = Vec<Env>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_envs(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<EnvListQuery>,
) -> ApiResult<Json<Vec<Env>>> {
    Ok(Json(s.service.list_envs(&actor, q.all).await?))
}

#[utoipa::path(post, path = "/api/v1/envs", tag = "envs", security(("bearer" = [])), request_body = CreateEnv,
    responses((status = 200, body = EnvStarted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn start_env(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateEnv>,
) -> ApiResult<Json<EnvStarted>> {
    Ok(Json(s.service.start_env(&actor, req).await?))
}

#[utoipa::path(get, path = "/api/v1/envs/{name}", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Env), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_env(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Env>> {
    Ok(Json(s.service.get_env(&actor, &name).await?))
}

#[utoipa::path(get, path = "/api/v1/envs/{name}/logs", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = EnvLogs), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn env_logs(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<EnvLogs>> {
    Ok(Json(s.service.env_logs(&actor, &name).await?))
}

#[utoipa::path(post, path = "/api/v1/envs/{name}/up-finished", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)), request_body = EnvOutcome,
    responses((status = 200, body = Env), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn finish_env_up(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(outcome): ApiJson<EnvOutcome>,
) -> ApiResult<Json<Env>> {
    Ok(Json(s.service.finish_env_up(&actor, &name, outcome).await?))
}

#[utoipa::path(post, path = "/api/v1/envs/{name}/down", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Option<Env>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start_env_down(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Option<Env>>> {
    Ok(Json(s.service.start_env_down(&actor, &name).await?))
}

#[utoipa::path(post, path = "/api/v1/envs/{name}/down-finished", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)), request_body = EnvOutcome,
    responses((status = 200, body = Env), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn finish_env_down(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(outcome): ApiJson<EnvOutcome>,
) -> ApiResult<Json<Env>> {
    Ok(Json(
        s.service.finish_env_down(&actor, &name, outcome).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/envs/{name}/extend", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)), request_body = ExtendEnv,
    responses((status = 200, body = Env), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn extend_env(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ExtendEnv>,
) -> ApiResult<Json<Env>> {
    Ok(Json(
        s.service.extend_env(&actor, &name, req.seconds).await?,
    ))
}

/// R-GOV-2: an approver's decision on an environment of a protected template.
#[utoipa::path(post, path = "/api/v1/envs/{name}/decision", tag = "envs", security(("bearer" = [])), params(("name" = String, Path)), request_body = DecideEnv,
    responses((status = 200, body = Env), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn decide_env(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<DecideEnv>,
) -> ApiResult<Json<Env>> {
    Ok(Json(s.service.decide_env(&actor, &name, req).await?))
}

#[utoipa::path(get, path = "/api/v1/env-quota", tag = "envs", security(("bearer" = [])),
    responses((status = 200, body = EnvQuota), (status = 401, body = ErrorBody)))]
pub async fn env_quota(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<EnvQuota>> {
    Ok(Json(s.service.env_quota(&actor).await?))
}

#[utoipa::path(get, path = "/api/v1/env-policy", tag = "envs", security(("bearer" = [])),
    responses((status = 200, body = EnvPolicy), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn env_policy(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<EnvPolicy>> {
    Ok(Json(s.service.env_policy(&actor).await?))
}

#[utoipa::path(put, path = "/api/v1/env-policy", tag = "envs", security(("bearer" = [])), request_body = SetEnvPolicy,
    responses((status = 200, body = EnvPolicy), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn set_env_policy(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<SetEnvPolicy>,
) -> ApiResult<Json<EnvPolicy>> {
    Ok(Json(s.service.set_env_policy(&actor, req).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpendQuery {
    /// `account` (default), `tenant`, `template`, `owner` or `label:KEY`.
    pub by: Option<String>,
    /// `YYYY-MM` (UTC); default: this month, up to now.
    pub month: Option<String>,
}

/// Spend of the caller's account and its sub-accounts, never its parent's (R-ACC-5, R-ACC-7).
#[utoipa::path(get, path = "/api/v1/spend", tag = "envs", security(("bearer" = [])), params(SpendQuery),
    responses((status = 200, body = SpendReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn spend(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<SpendQuery>,
) -> ApiResult<Json<SpendReport>> {
    Ok(Json(
        s.service
            .spend(&actor, q.by.as_deref(), q.month.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/env-reaper/claim", tag = "envs", security(("bearer" = [])), params(ClaimQuery),
    responses((status = 200, body = Vec<Env>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn claim_expired_envs(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<ClaimQuery>,
) -> ApiResult<Json<Vec<Env>>> {
    Ok(Json(
        s.service
            .claim_expired_envs(&actor, q.lease_seconds.unwrap_or(600))
            .await?,
    ))
}

/// Terraform's http backend sends the token as the Basic-auth password (`TF_HTTP_PASSWORD`).
async fn state_caller(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<(Identity, Option<String>), Error> {
    use base64::Engine as _;
    let unauthenticated =
        || Error::unauthenticated("authentication required").with_hint("run `plat login`");
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthenticated)?;
    let token = if let Some(basic) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .map_err(|_| unauthenticated())?;
        let text = String::from_utf8(decoded).map_err(|_| unauthenticated())?;
        text.split_once(':')
            .map(|(_, password)| password.to_owned())
            .ok_or_else(unauthenticated)?
    } else if let Some(bearer) = header.strip_prefix("Bearer ") {
        bearer.trim().to_owned()
    } else {
        return Err(unauthenticated());
    };
    let identity = s.verifier.verify(&token, &s.service).await?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((identity, host))
}

#[derive(Debug, Deserialize)]
pub struct LockQuery {
    #[serde(rename = "ID")]
    pub id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/env-states/{id}", tag = "terraform-state", params(("id" = String, Path)),
    responses((status = 200, description = "Terraform state"), (status = 204, description = "No state yet"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (identity, host) = state_caller(&s, &headers).await?;
    Ok(
        match s
            .service
            .get_env_state(&identity, host.as_deref(), &id)
            .await?
        {
            Some(state) => ([("content-type", "application/json")], state).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

#[utoipa::path(post, path = "/api/v1/env-states/{id}", tag = "terraform-state", params(("id" = String, Path)),
    responses((status = 200, description = "Stored"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LockQuery>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (identity, host) = state_caller(&s, &headers).await?;
    let state =
        String::from_utf8(body.to_vec()).map_err(|_| Error::invalid("the state is not UTF-8"))?;
    s.service
        .put_env_state(
            &identity,
            host.as_deref(),
            &id,
            q.id.as_deref(),
            Some(state),
        )
        .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v1/env-states/{id}", tag = "terraform-state", params(("id" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LockQuery>,
) -> ApiResult<StatusCode> {
    let (identity, host) = state_caller(&s, &headers).await?;
    s.service
        .put_env_state(&identity, host.as_deref(), &id, q.id.as_deref(), None)
        .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/api/v1/env-states/{id}/lock", tag = "terraform-state", params(("id" = String, Path)),
    responses((status = 200, description = "Locked"), (status = 423, description = "Locked by another run; body is its lock info"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn lock_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let (identity, host) = state_caller(&s, &headers).await?;
    let info = String::from_utf8(body.to_vec())
        .map_err(|_| Error::invalid("the lock info is not UTF-8"))?;
    Ok(
        match s
            .service
            .lock_env_state(&identity, host.as_deref(), &id, info)
            .await?
        {
            Ok(()) => StatusCode::OK.into_response(),
            Err(holder) => (
                StatusCode::LOCKED,
                [("content-type", "application/json")],
                holder,
            )
                .into_response(),
        },
    )
}

#[utoipa::path(post, path = "/api/v1/env-states/{id}/unlock", tag = "terraform-state", params(("id" = String, Path)),
    responses((status = 200, description = "Unlocked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlock_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (identity, host) = state_caller(&s, &headers).await?;
    s.service
        .unlock_env_state(&identity, host.as_deref(), &id)
        .await?;
    Ok(StatusCode::OK)
}
