use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, DeviceAuthorizationUrl, DeviceCodeErrorResponse,
    DeviceCodeErrorResponseType, EndpointMaybeSet, EndpointNotSet, EndpointSet, ErrorResponseType,
    HttpRequest, HttpResponse, PkceCodeChallenge, RefreshToken, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use super::error::AuthError;
use super::secret::Secret;

/// `offline_access` is what makes the IdP issue the refresh token the store keeps.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile", "offline_access"];

/// Where and as whom plat logs in. Comes from the context's config, never from secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    /// RFC 8707 resource indicator (the API audience), sent on the device request when set.
    pub resource: Option<String>,
    pub scopes: Vec<String>,
    /// PKCE (S256) on the device flow. Keycloak requires it when the client has a PKCE method;
    /// IdPs without device-flow PKCE ignore the extra parameters.
    pub use_pkce: bool,
}

impl OidcConfig {
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            resource: None,
            scopes: DEFAULT_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect(),
            use_pkce: true,
        }
    }

    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
}

/// What the user needs to approve the login on another device. The caller shows it (on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub verification_uri: String,
    /// The verification URL with the code filled in, when the IdP offers one (QR codes, browsers).
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// Receives the device code once, before polling starts.
pub trait DevicePrompt: Send + Sync {
    fn show(&self, device: &DeviceAuthorization);
}

impl<F> DevicePrompt for F
where
    F: Fn(&DeviceAuthorization) + Send + Sync,
{
    fn show(&self, device: &DeviceAuthorization) {
        self(device)
    }
}

/// Tokens from one token-endpoint answer.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: Secret,
    /// `None` when the IdP did not rotate it on refresh (the old one stays valid).
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<Timestamp>,
}

impl TokenSet {
    fn from_response(response: &impl TokenResponse) -> Self {
        let expires_at = response.expires_in().and_then(|lifetime| {
            let lifetime = SignedDuration::try_from(lifetime).ok()?;
            Timestamp::now().checked_add(lifetime).ok()
        });
        Self {
            access_token: Secret::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|token| Secret::new(token.secret().clone())),
            expires_at,
        }
    }
}

/// A reqwest client fit for talking to an IdP: no redirects (a token endpoint that redirects is
/// misconfigured or hostile), bounded connect and total time.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("plat/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Bridges oauth2's HTTP abstraction to the reqwest 0.13 client the rest of plat uses
/// (oauth2 5 only ships a reqwest 0.12 integration).
#[derive(Debug, Clone)]
pub struct OidcHttp {
    client: reqwest::Client,
}

impl OidcHttp {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct HttpError {
    reason: String,
}

impl HttpError {
    fn from_reqwest(err: reqwest::Error) -> Self {
        Self {
            reason: describe_error_chain(&err.without_url()),
        }
    }
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(HttpError::from_reqwest)?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(HttpError::from_reqwest)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                headers.extend(
                    response
                        .headers()
                        .iter()
                        .map(|(name, value)| (name.clone(), value.clone())),
                );
            }
            let body = response.bytes().await.map_err(HttpError::from_reqwest)?;
            builder.body(body.to_vec()).map_err(|err| HttpError {
                reason: err.to_string(),
            })
        })
    }
}

/// One line from an error and its causes, without a backtrace; repeated messages are dropped.
pub(super) fn describe_error_chain(err: &dyn StdError) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|seen| seen.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

/// The parts of an issuer's discovery document plat uses: the CLI its login endpoints, the
/// server its keys and userinfo.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    /// Read by the server's token checks only.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub jwks_uri: Option<String>,
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub userinfo_endpoint: Option<String>,
}

impl ProviderMetadata {
    /// Fetches `<issuer>/.well-known/openid-configuration` and checks it names the same issuer.
    /// The one discovery of plat: the CLI's login and the server's token checks both use it.
    pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Self, AuthError> {
        let configured = issuer;
        let issuer = issuer.trim_end_matches('/');
        reqwest::Url::parse(issuer).map_err(|err| AuthError::InvalidIssuer {
            url: configured.to_owned(),
            reason: err.to_string(),
        })?;
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let response = http
            .get(&discovery_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| AuthError::IdpUnreachable {
                url: discovery_url.clone(),
                reason: describe_error_chain(&err.without_url()),
            })?;
        if !response.status().is_success() {
            return Err(AuthError::IdpHttpStatus {
                url: discovery_url,
                status: response.status().as_u16(),
            });
        }
        let metadata: Self =
            response
                .json()
                .await
                .map_err(|err| AuthError::IdpInvalidResponse {
                    url: discovery_url.clone(),
                    reason: describe_error_chain(&err.without_url()),
                })?;
        if metadata.issuer.trim_end_matches('/') != issuer {
            return Err(AuthError::IssuerMismatch {
                url: discovery_url,
                expected: configured.to_owned(),
                found: metadata.issuer,
            });
        }
        Ok(metadata)
    }
}

type ConfiguredClient =
    BasicClient<EndpointNotSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An OIDC client bound to one discovered issuer.
#[derive(Debug, Clone)]
pub struct OidcClient {
    config: OidcConfig,
    http: OidcHttp,
    metadata: ProviderMetadata,
    oauth: ConfiguredClient,
}

impl OidcClient {
    /// Fetches `<issuer>/.well-known/openid-configuration` and checks it names the same issuer.
    pub async fn discover(http: reqwest::Client, config: OidcConfig) -> Result<Self, AuthError> {
        let metadata = ProviderMetadata::discover(&http, &config.issuer).await?;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let oauth = build_oauth_client(&config, &metadata, &discovery_url)?;
        Ok(Self {
            config,
            http: OidcHttp::new(http),
            metadata,
            oauth,
        })
    }

    #[cfg(test)]
    pub fn supports_device_flow(&self) -> bool {
        self.metadata.device_authorization_endpoint.is_some()
    }

    /// Runs the device authorization grant to the end: requests a code, hands it to `prompt`,
    /// then polls at the IdP's `interval` (+5 s per `slow_down`) until approval, denial or expiry.
    ///
    /// Transport errors while polling are retried with back-off until the code expires, as
    /// RFC 8628 section 3.5 asks; wrap the future in a timeout or `select!` to cancel earlier.
    pub async fn device_login(&self, prompt: &dyn DevicePrompt) -> Result<TokenSet, AuthError> {
        let device_url = self
            .metadata
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| self.device_flow_unsupported())?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .oauth
            .exchange_device_code()
            .map_err(|_| self.device_flow_unsupported())?
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new));
        if self.config.use_pkce {
            request = request
                .add_extra_param("code_challenge", challenge.as_str().to_owned())
                .add_extra_param(
                    "code_challenge_method",
                    challenge.method().as_str().to_owned(),
                );
        }
        if let Some(resource) = &self.config.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        let details: StandardDeviceAuthorizationResponse = request
            .request_async(&self.http)
            .await
            .map_err(|err| map_basic_error(&device_url, err))?;

        prompt.show(&DeviceAuthorization {
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|complete| complete.secret().clone()),
            user_code: details.user_code().secret().clone(),
            expires_in: details.expires_in(),
            interval: details.interval(),
        });

        let mut poll = self.oauth.exchange_device_access_token(&details);
        if self.config.use_pkce {
            poll = poll.add_extra_param("code_verifier", verifier.secret().clone());
        }
        let token = poll
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(|err| map_device_error(&self.metadata.token_endpoint, err))?;
        Ok(TokenSet::from_response(&token))
    }

    /// Refresh-token grant. A rejected token comes back as `IdpRejected { code: "invalid_grant" }`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenSet, AuthError> {
        let refresh_token = RefreshToken::new(refresh_token.expose().to_owned());
        let token = self
            .oauth
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.http)
            .await
            .map_err(|err| map_basic_error(&self.metadata.token_endpoint, err))?;
        Ok(TokenSet::from_response(&token))
    }

    /// RFC 7009 revocation, for logout. `Ok(false)` when the IdP has no revocation endpoint.
    ///
    /// Sent with reqwest directly: oauth2 refuses non-HTTPS revocation URLs, which would make
    /// logout against a loopback development IdP silently skip revocation.
    pub async fn revoke_refresh_token(&self, refresh_token: &Secret) -> Result<bool, AuthError> {
        let Some(revocation_url) = self.metadata.revocation_endpoint.clone() else {
            return Ok(false);
        };
        let response = self
            .http
            .client()
            .post(&revocation_url)
            .form(&[
                ("token", refresh_token.expose()),
                ("token_type_hint", "refresh_token"),
                ("client_id", self.config.client_id.as_str()),
            ])
            .send()
            .await
            .map_err(|err| AuthError::IdpUnreachable {
                url: revocation_url.clone(),
                reason: describe_error_chain(&err.without_url()),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(true);
        }
        match response.json::<OAuthErrorBody>().await {
            Ok(body) => Err(AuthError::IdpRejected {
                url: revocation_url,
                code: body.error,
                description: body.error_description,
            }),
            Err(_) => Err(AuthError::IdpHttpStatus {
                url: revocation_url,
                status: status.as_u16(),
            }),
        }
    }

    fn device_flow_unsupported(&self) -> AuthError {
        AuthError::DeviceFlowUnsupported {
            issuer: self.metadata.issuer.clone(),
        }
    }
}

fn build_oauth_client(
    config: &OidcConfig,
    metadata: &ProviderMetadata,
    discovery_url: &str,
) -> Result<ConfiguredClient, AuthError> {
    let invalid = |field: &str, err: oauth2::url::ParseError| AuthError::IdpInvalidResponse {
        url: discovery_url.to_owned(),
        reason: format!("`{field}` is not a URL: {err}"),
    };
    let token_url = TokenUrl::new(metadata.token_endpoint.clone())
        .map_err(|err| invalid("token_endpoint", err))?;
    let device_url = metadata
        .device_authorization_endpoint
        .clone()
        .map(DeviceAuthorizationUrl::new)
        .transpose()
        .map_err(|err| invalid("device_authorization_endpoint", err))?;
    // plat-cli is a public client: client_id goes in the form body, there is no secret.
    Ok(BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url)
        .set_device_authorization_url_option(device_url))
}

fn map_device_error(
    url: &str,
    err: RequestTokenError<HttpError, DeviceCodeErrorResponse>,
) -> AuthError {
    if let RequestTokenError::ServerResponse(response) = &err {
        match response.error() {
            DeviceCodeErrorResponseType::AccessDenied => return AuthError::AccessDenied,
            DeviceCodeErrorResponseType::ExpiredToken => return AuthError::DeviceCodeExpired,
            _ => {}
        }
    }
    map_standard_error(url, err)
}

fn map_basic_error(url: &str, err: RequestTokenError<HttpError, BasicErrorResponse>) -> AuthError {
    map_standard_error(url, err)
}

/// Never includes response bodies: a half-parsed token response may hold a token.
fn map_standard_error<T>(
    url: &str,
    err: RequestTokenError<HttpError, StandardErrorResponse<T>>,
) -> AuthError
where
    T: ErrorResponseType + AsRef<str> + std::fmt::Display + 'static,
{
    match err {
        RequestTokenError::ServerResponse(response) => AuthError::IdpRejected {
            url: url.to_owned(),
            code: response.error().as_ref().to_owned(),
            description: response.error_description().cloned(),
        },
        RequestTokenError::Request(http_err) => AuthError::IdpUnreachable {
            url: url.to_owned(),
            reason: http_err.reason,
        },
        // serde_json's own message can quote the offending value, so only its position is kept.
        RequestTokenError::Parse(parse_err, _body) => AuthError::IdpInvalidResponse {
            url: url.to_owned(),
            reason: format!(
                "cannot parse field `{}` ({:?} error at line {} column {})",
                parse_err.path(),
                parse_err.inner().classify(),
                parse_err.inner().line(),
                parse_err.inner().column()
            ),
        },
        RequestTokenError::Other(reason) => AuthError::IdpInvalidResponse {
            url: url.to_owned(),
            reason,
        },
    }
}
