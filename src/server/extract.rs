//! Request plumbing: who is calling (bearer token → actor), JSON bodies whose rejections are
//! JSON errors, and platform errors turned into HTTP responses.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::api::{ACCOUNT_HEADER, ErrorBody, ErrorDetail, ON_BEHALF_OF_HEADER};
use crate::service::{Actor, Error};

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
        let identity = state.verifier.verify(token.trim()).await?;
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
        let actor = state
            .service
            .resolve_actor(&identity, account.as_deref(), host.as_deref())
            .await?;
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
