//! Published scan inventories, and the Backstage catalog built from them. Thin like the others:
//! the service decides.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{ErrorBody, Inventory, PublishInventory};

/// Backstage reads catalog files as YAML; this is the media type its URL reader accepts.
const YAML: &str = "application/yaml";

#[utoipa::path(get, path = "/api/v1/inventories", tag = "scan", security(("bearer" = [])),
    responses((status = 200, body = Vec<Inventory>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_inventories(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<Inventory>>> {
    Ok(Json(s.service.list_inventories(&actor).await?))
}

#[utoipa::path(put, path = "/api/v1/inventories/{name}", tag = "scan", security(("bearer" = [])), params(("name" = String, Path)), request_body = PublishInventory,
    responses((status = 200, body = Inventory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn publish_inventory(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PublishInventory>,
) -> ApiResult<Json<Inventory>> {
    Ok(Json(s.service.publish_inventory(&actor, &name, req).await?))
}

#[utoipa::path(get, path = "/api/v1/inventories/{name}", tag = "scan", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Inventory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_inventory(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Inventory>> {
    Ok(Json(s.service.get_inventory(&actor, &name).await?))
}

#[utoipa::path(get, path = "/api/v1/inventories/{name}/entities", tag = "scan", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, description = "Backstage catalog entities, multi-document YAML", content_type = "application/yaml", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn inventory_entities(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let inventory = s.service.get_inventory(&actor, &name).await?;
    Ok((
        [(header::CONTENT_TYPE, YAML)],
        inventory.entities.unwrap_or_default(),
    ))
}

#[utoipa::path(get, path = "/api/v1/catalog", tag = "scan", security(("bearer" = [])),
    responses((status = 200, description = "Every entity the account has published: one Backstage catalog location", content_type = "application/yaml", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn catalog(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<impl IntoResponse> {
    Ok((
        [(header::CONTENT_TYPE, YAML)],
        s.service.catalog_entities(&actor).await?,
    ))
}
