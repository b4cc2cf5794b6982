//! Trust rules (R-GOV-5): which external issuers' tokens act as a service identity of the
//! account. Thin like the others: the service decides.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{CreateTrustRule, ErrorBody, TrustRule};

#[utoipa::path(get, path = "/api/v1/trust-rules", tag = "trust", security(("bearer" = [])),
    responses((status = 200, body = Vec<TrustRule>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_trust_rules(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<TrustRule>>> {
    Ok(Json(s.service.list_trust_rules(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/trust-rules", tag = "trust", security(("bearer" = [])), request_body = CreateTrustRule,
    responses((status = 201, body = TrustRule), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_trust_rule(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateTrustRule>,
) -> ApiResult<(StatusCode, Json<TrustRule>)> {
    let rule = s.service.add_trust_rule(&actor, req).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(delete, path = "/api/v1/trust-rules/{name}", tag = "trust", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_trust_rule(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_trust_rule(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
