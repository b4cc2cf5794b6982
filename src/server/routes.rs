//! HTTP handlers: thin. Each resolves the caller and hands the request to the service, where the
//! rules and authorization live (R-SEC-2).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiResult, Caller};
use crate::api::{
    Account, AuditPage, AuditQuery, AuthConfig, AuthorizeWork, CreateAccount, CreateGroup,
    CreateTenant, CreateUser, ErrorBody, Group, GroupIdpLink, GroupMember, Health, RenameUser,
    Tenant, UpdateAccount, UpdateGroup, UpdateTenant, User, WhoAmI,
};
use crate::service::Error;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Return at most this many items.
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness answers within this, whatever the database does, so that a load balancer takes a
/// replica whose database is gone out of rotation in under 2 s.
const READY_PROBE_LIMIT: std::time::Duration = std::time::Duration::from_millis(1000);

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(
    State(state): State<AppState>,
) -> Result<Json<Health>, (StatusCode, Json<ErrorBody>)> {
    match state.service.store().probe_write(READY_PROBE_LIMIT).await {
        Ok(()) => Ok(Json(Health {
            status: "ready".into(),
        })),
        Err(cause) => {
            tracing::warn!(error = %cause, "not ready: the database cannot take a write");
            let err =
                Error::unavailable("the database cannot take a write").with_hint(cause.to_string());
            Err((StatusCode::SERVICE_UNAVAILABLE, Json(err.to_body())))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/auth/config", tag = "auth", responses((status = 200, body = AuthConfig)))]
pub async fn auth_config(State(state): State<AppState>) -> Json<AuthConfig> {
    Json(state.auth_config.clone())
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub async fn whoami(Caller(actor): Caller) -> Json<WhoAmI> {
    Json(actor.who_am_i())
}

#[utoipa::path(post, path = "/api/v1/authorize", tag = "auth", security(("bearer" = [])), request_body = AuthorizeWork,
    responses((status = 204, description = "the caller may do this work"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn authorize(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<AuthorizeWork>,
) -> ApiResult<StatusCode> {
    s.service.authorize_local_work(&actor, req.work)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Account>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_accounts(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(s.service.list_accounts(&actor, q.limit).await?))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])), request_body = CreateAccount,
    responses((status = 201, body = Account), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create_account(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_account(&actor, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/accounts/{slug}", tag = "accounts", security(("bearer" = [])), params(("slug" = String, Path)),
    responses((status = 200, body = Account), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_account(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.service.get_account(&actor, &slug).await?))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{slug}", tag = "accounts", security(("bearer" = [])), params(("slug" = String, Path)), request_body = UpdateAccount,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_account(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.service.update_account(&actor, &slug, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{slug}", tag = "accounts", security(("bearer" = [])), params(("slug" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_account(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_account(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = Vec<Tenant>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tenants(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(s.service.list_tenants(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_tenant(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_tenant(&actor, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{name}", tag = "tenants", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_tenant(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(s.service.get_tenant(&actor, &name).await?))
}

#[utoipa::path(patch, path = "/api/v1/tenants/{name}", tag = "tenants", security(("bearer" = [])), params(("name" = String, Path)), request_body = UpdateTenant,
    responses((status = 200, body = Tenant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_tenant(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(s.service.update_tenant(&actor, &name, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{name}", tag = "tenants", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_tenant(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_tenant(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.service.list_users(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_user(&actor, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{email}", tag = "users", security(("bearer" = [])), params(("email" = String, Path)),
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(email): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.service.get_user(&actor, &email).await?))
}

#[utoipa::path(patch, path = "/api/v1/users/{email}", tag = "users", security(("bearer" = [])), params(("email" = String, Path)), request_body = RenameUser,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename_user(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(email): Path<String>,
    ApiJson(req): ApiJson<RenameUser>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        s.service.rename_user(&actor, &email, &req.name).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{email}/revoke", tag = "users", security(("bearer" = [])), params(("email" = String, Path)),
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_user(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(email): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.service.revoke_user(&actor, &email).await?))
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", security(("bearer" = [])),
    responses((status = 200, body = Vec<Group>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_groups(
    State(s): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(s.service.list_groups(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", security(("bearer" = [])), request_body = CreateGroup,
    responses((status = 201, body = Group), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_group(
    State(s): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_group(&actor, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/groups/{name}", tag = "groups", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Group), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.service.get_group(&actor, &name).await?))
}

#[utoipa::path(patch, path = "/api/v1/groups/{name}", tag = "groups", security(("bearer" = [])), params(("name" = String, Path)), request_body = UpdateGroup,
    responses((status = 200, body = Group), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_group(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UpdateGroup>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.service.update_group(&actor, &name, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}", tag = "groups", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_group(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_group(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/groups/{name}/members", tag = "groups", security(("bearer" = [])), params(("name" = String, Path)), request_body = GroupMember,
    responses((status = 200, body = Group), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_group_member(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<GroupMember>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        s.service
            .add_group_member(&actor, &name, &req.email)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}/members/{email}", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path), ("email" = String, Path)),
    responses((status = 200, body = Group), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_group_member(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path((name, email)): Path<(String, String)>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        s.service.remove_group_member(&actor, &name, &email).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdpGroupQuery {
    /// The IdP group whose link is removed, e.g. `/acme/release`.
    pub idp_group: Option<String>,
}

/// R-GOV-1: members of an IdP group (per each token's groups claim) get this group's permissions.
#[utoipa::path(post, path = "/api/v1/groups/{name}/idp-links", tag = "groups", security(("bearer" = [])), params(("name" = String, Path)), request_body = GroupIdpLink,
    responses((status = 200, body = Group), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn link_group_idp(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<GroupIdpLink>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        s.service
            .link_group_idp(&actor, &name, &req.idp_group)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}/idp-links", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path), IdpGroupQuery),
    responses((status = 200, body = Group), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlink_group_idp(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    Query(query): Query<IdpGroupQuery>,
) -> ApiResult<Json<Group>> {
    let idp_group = query.idp_group.unwrap_or_default();
    Ok(Json(
        s.service
            .unlink_group_idp(&actor, &name, &idp_group)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(s.service.list_audit(&actor, &q).await?))
}
