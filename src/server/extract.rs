//! Request plumbing: who is calling (bearer token → actor), JSON bodies whose rejections are
//! JSON errors, and platform errors turned into HTTP responses.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::AppState;
use crate::api::{ACCOUNT_HEADER, ErrorBody, ErrorDetail, ON_BEHALF_OF_HEADER, REQUEST_ID_HEADER};
use crate::service::{Actor, Error, Origin};

/// The id of the request being served: the same in its audit records, its log lines and the
/// `X-Request-Id` header of its response.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The longest incoming request id kept; a longer one is replaced by a fresh id.
const MAX_REQUEST_ID: usize = 128;

/// An incoming id is kept when it is short and plain (what proxies and tracing systems send:
/// UUIDs, ULIDs, hex trace ids), so that it can neither forge log lines nor bloat records.
fn sane_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Gives each request one id (the caller's `X-Request-Id` when sane, else a new one), runs it
/// inside a log span carrying that id, and returns the id in the response header.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| sane_request_id(value))
        .map_or_else(crate::store::new_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The request's origin for the audit trail: its id, and the client's address when the server
/// knows it.
fn request_origin(parts: &Parts) -> Origin {
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map_or_else(crate::store::new_id, |id| id.0.clone());
    let source = match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => format!("server {}", address.ip()),
        None => "server".to_owned(),
    };
    Origin { request_id, source }
}

/// A platform error on the wire: its status and the same error document the CLI prints.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0.message, "request failed");
        }
        (status, axum::Json(self.0.to_body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The caller, resolved to an actor by the service: token → user, header → account, Host → tenant.
pub struct Caller(pub std::sync::Arc<Actor>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Error::unauthenticated("authentication required").with_hint("run `plat login`")
            })?;
        let identity = state.verifier.verify(token.trim(), &state.service).await?;
        let account = parts
            .headers
            .get(ACCOUNT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let resolved = state
            .service
            .resolve_actor(&identity, account.as_deref(), host.as_deref())
            .await?;
        let origin = request_origin(parts);
        let actor = std::sync::Arc::new(
            std::sync::Arc::unwrap_or_clone(resolved).with_origin(origin.clone()),
        );
        let Some(user) = parts.headers.get(ON_BEHALF_OF_HEADER) else {
            return Ok(Caller(actor));
        };
        let user = user.to_str().map_err(|_| {
            Error::invalid(format!("the header {ON_BEHALF_OF_HEADER} is not an e-mail"))
        })?;
        let delegated = state
            .service
            .resolve_delegated_actor(&actor, user.trim(), host.as_deref())
            .await?;
        let delegated =
            std::sync::Arc::new(std::sync::Arc::unwrap_or_clone(delegated).with_origin(origin));
        // Both identities, for whoever reads the server's log (R-GOV-5).
        tracing::info!(
            service = %actor.user.email,
            user = %delegated.user.email,
            account = %delegated.account.slug,
            "request on behalf of a user"
        );
        Ok(Caller(delegated))
    }
}

/// A JSON body; malformed, mistyped or oversized bodies get a JSON 400/413, never a 500.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> Response {
    let (status, code) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    } else {
        (StatusCode::BAD_REQUEST, "invalid_argument")
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: rejection.body_text(),
            hint: Some("send a JSON document matching /api/v1/openapi.json".into()),
        },
    };
    (status, axum::Json(body)).into_response()
}
