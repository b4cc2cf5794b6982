use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while logging in, storing tokens or getting a valid access token.
///
/// Messages never contain token values: token endpoint bodies are parsed, never echoed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not logged in to context `{context}`: {reason}")]
    LoginRequired { context: String, reason: String },

    #[error("the login was denied at the identity provider")]
    AccessDenied,

    #[error("the login code expired before it was approved")]
    DeviceCodeExpired,

    #[error("cannot reach the identity provider at {url}: {reason}")]
    IdpUnreachable { url: String, reason: String },

    #[error("the identity provider at {url} answered HTTP {status}")]
    IdpHttpStatus { url: String, status: u16 },

    #[error("the identity provider at {url} refused the request: {code}{}", description_suffix(.description))]
    IdpRejected {
        url: String,
        code: String,
        description: Option<String>,
    },

    #[error("unexpected answer from the identity provider at {url}: {reason}")]
    IdpInvalidResponse { url: String, reason: String },

    #[error("the discovery document at {url} names issuer `{found}`, expected `{expected}`")]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },

    #[error("the identity provider {issuer} does not offer the device authorization grant")]
    DeviceFlowUnsupported { issuer: String },

    #[error("invalid issuer URL `{url}`: {reason}")]
    InvalidIssuer { url: String, reason: String },

    #[error("the OS keyring is not usable: {reason}")]
    KeyringUnavailable { reason: String },

    #[error("the OS keyring did not answer within {}s", .timeout.as_secs_f32())]
    KeyringTimeout { timeout: Duration },

    #[error("the OS keyring refused to store the token: {reason}")]
    KeyringRejected { reason: String },

    #[error("cannot access token file {}: {source}", .path.display())]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("token file {} is corrupt: {reason}", .path.display())]
    TokenFileCorrupt { path: PathBuf, reason: String },

    #[error("another plat process holds the login lock {} for more than {}s", .path.display(), .timeout.as_secs())]
    LockTimeout { path: PathBuf, timeout: Duration },

    #[error("the access token is not a readable JWT: {reason}")]
    MalformedToken { reason: String },
}

fn description_suffix(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|text| format!(" ({text})"))
        .unwrap_or_default()
}

impl AuthError {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::LoginRequired { .. } => Some("plat login".to_owned()),
            Self::AccessDenied | Self::DeviceCodeExpired => {
                Some("run `plat login` again and approve the code in time".to_owned())
            }
            Self::IdpUnreachable { .. } | Self::IdpHttpStatus { .. } => Some(
                "check the context's OIDC issuer URL and your network connection".to_owned(),
            ),
            Self::IssuerMismatch { .. } | Self::InvalidIssuer { .. } => Some(
                "the context's OIDC issuer must be exactly the `issuer` the identity provider announces"
                    .to_owned(),
            ),
            Self::DeviceFlowUnsupported { .. } => Some(
                "enable the OAuth 2.0 device authorization grant for the plat client at the identity provider"
                    .to_owned(),
            ),
            Self::KeyringUnavailable { .. }
            | Self::KeyringTimeout { .. }
            | Self::KeyringRejected { .. } => Some(
                "plat login --insecure-storage (keeps the refresh token in a file only you can read)"
                    .to_owned(),
            ),
            Self::LockTimeout { path, .. } => Some(format!(
                "if no other plat process is running, delete {}",
                path.display()
            )),
            Self::TokenFileCorrupt { .. } => Some("plat logout, then plat login".to_owned()),
            Self::IdpRejected { .. }
            | Self::IdpInvalidResponse { .. }
            | Self::TokenFile { .. }
            | Self::MalformedToken { .. } => None,
        }
    }

    /// Stable snake_case identifier for `-o json` error objects.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LoginRequired { .. } => "login_required",
            Self::AccessDenied => "access_denied",
            Self::DeviceCodeExpired => "device_code_expired",
            Self::IdpUnreachable { .. } => "idp_unreachable",
            Self::IdpHttpStatus { .. } => "idp_http_status",
            Self::IdpRejected { .. } => "idp_rejected",
            Self::IdpInvalidResponse { .. } => "idp_invalid_response",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::DeviceFlowUnsupported { .. } => "device_flow_unsupported",
            Self::InvalidIssuer { .. } => "invalid_issuer",
            Self::KeyringUnavailable { .. } => "keyring_unavailable",
            Self::KeyringTimeout { .. } => "keyring_timeout",
            Self::KeyringRejected { .. } => "keyring_rejected",
            Self::TokenFile { .. } => "token_file",
            Self::TokenFileCorrupt { .. } => "token_file_corrupt",
            Self::LockTimeout { .. } => "lock_timeout",
            Self::MalformedToken { .. } => "malformed_token",
        }
    }

    pub fn exit(&self) -> crate::error::Exit {
        match self {
            Self::LoginRequired { .. } | Self::AccessDenied | Self::DeviceCodeExpired => {
                crate::error::Exit::Unauthenticated
            }
            _ => crate::error::Exit::Failure,
        }
    }

    #[cfg(test)]
    pub fn is_login_required(&self) -> bool {
        matches!(self, Self::LoginRequired { .. })
    }
}
