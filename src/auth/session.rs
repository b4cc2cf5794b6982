use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::claims::{TokenClaims, decode_claims};
use super::error::AuthError;
use super::oidc::{DevicePrompt, OidcClient, OidcConfig};
use super::secret::Secret;
use super::store::{StoredTokens, TokenStore, auth_dir, create_private_dir, file_stem_for_context};

/// An access token closer than this to expiry is refreshed first, so it does not die in flight.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Longer than one refresh round trip under the default HTTP timeout.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
const LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(25);

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The context name: the keyring account and the token file name.
    pub context: String,
    pub oidc: OidcConfig,
    /// plat's data dir (`$PLAT_DATA_DIR` or `$XDG_DATA_HOME/plat`); lock files go to `auth/`.
    pub data_dir: PathBuf,
    pub refresh_margin: Duration,
    pub lock_timeout: Duration,
}

impl SessionConfig {
    pub fn new(context: impl Into<String>, oidc: OidcConfig, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            context: context.into(),
            oidc,
            data_dir: data_dir.into(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// A bearer token with what could be read from it (unverified) for display.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    /// `None` when the IdP issues opaque (non-JWT) access tokens.
    pub claims: Option<TokenClaims>,
    pub expires_at: Option<Timestamp>,
}

impl AccessToken {
    fn new(token: Secret, expires_at_fallback: Option<Timestamp>) -> Self {
        let claims = decode_claims(&token).ok();
        let expires_at = claims
            .as_ref()
            .and_then(|claims| claims.expires_at)
            .or(expires_at_fallback);
        Self {
            token,
            claims,
            expires_at,
        }
    }

    fn valid_for_at_least(&self, margin: Duration) -> bool {
        let Ok(margin) = SignedDuration::try_from(margin) else {
            return false;
        };
        match (self.expires_at, Timestamp::now().checked_add(margin)) {
            (Some(expires_at), Ok(deadline)) => expires_at > deadline,
            _ => false,
        }
    }

    fn issued_by(&self, issuer: &str) -> bool {
        match self
            .claims
            .as_ref()
            .and_then(|claims| claims.issuer.as_deref())
        {
            Some(token_issuer) => {
                token_issuer.trim_end_matches('/') == issuer.trim_end_matches('/')
            }
            None => true,
        }
    }
}

/// What `plat auth status` shows.
#[derive(Debug, Clone)]
pub struct AuthStatus {
    pub issuer: String,
    pub storage: String,
    pub logged_in: bool,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub expires_at: Option<Timestamp>,
}

/// Result of [`Session::logout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// Whether any token was stored for the context.
    pub removed: bool,
    /// Whether the IdP confirmed the revocation of the refresh token.
    pub revoked: bool,
}

/// Gets a valid access token for one context: from memory, from the store, or by refreshing.
pub struct Session {
    config: SessionConfig,
    store: TokenStore,
    http: reqwest::Client,
    oidc: tokio::sync::OnceCell<OidcClient>,
    cached: Mutex<Option<AccessToken>>,
}

impl Session {
    /// No I/O: discovery happens only when a refresh or login needs the IdP.
    pub fn new(config: SessionConfig, store: TokenStore, http: reqwest::Client) -> Self {
        Self {
            config,
            store,
            http,
            oidc: tokio::sync::OnceCell::new(),
            cached: Mutex::new(None),
        }
    }

    pub fn store(&self) -> &TokenStore {
        &self.store
    }

    /// Probes the store, runs the device flow, and stores the refresh token.
    pub async fn login(&self, prompt: &dyn DevicePrompt) -> Result<AccessToken, AuthError> {
        self.store.probe().await?;
        let oidc = self.oidc().await?;
        let tokens = oidc.device_login(prompt).await?;
        let access = AccessToken::new(tokens.access_token, tokens.expires_at);
        let _lock = self.lock().await?;
        self.store
            .save(
                &self.config.context,
                &StoredTokens {
                    refresh_token: tokens.refresh_token,
                    access_token: Some(access.token.clone()),
                },
            )
            .await?;
        self.remember(&access);
        Ok(access)
    }

    /// A token valid for at least `refresh_margin`, refreshing (and storing the rotated refresh
    /// token) under a cross-process lock when needed. `LoginRequired` when there is no usable login.
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        if let Some(cached) = self.recall() {
            return Ok(cached);
        }
        let stored = self.store.load(&self.config.context).await?;
        if let Some(access) = self.usable_access_token(&stored) {
            self.remember(&access);
            return Ok(access);
        }
        if stored.refresh_token.is_none() {
            return Err(self.login_required("no login is stored for this context"));
        }

        let _lock = self.lock().await?;
        // Another plat process may have refreshed while this one waited for the lock; its
        // rotation has invalidated the refresh token read above.
        let stored = self.store.load(&self.config.context).await?;
        if let Some(access) = self.usable_access_token(&stored) {
            self.remember(&access);
            return Ok(access);
        }
        let Some(refresh_token) = stored.refresh_token else {
            return Err(self.login_required("no login is stored for this context"));
        };
        let oidc = self.oidc().await?;
        match oidc.refresh(&refresh_token).await {
            Ok(tokens) => {
                let access = AccessToken::new(tokens.access_token, tokens.expires_at);
                self.store
                    .save(
                        &self.config.context,
                        &StoredTokens {
                            refresh_token: Some(tokens.refresh_token.unwrap_or(refresh_token)),
                            access_token: Some(access.token.clone()),
                        },
                    )
                    .await?;
                self.remember(&access);
                Ok(access)
            }
            Err(AuthError::IdpRejected { code, .. }) if code == "invalid_grant" => {
                // A rejected refresh token never comes back to life: forget it so that status
                // reports "logged out" without asking the IdP again.
                self.store.delete(&self.config.context).await?;
                Err(self.login_required(
                    "the identity provider rejected the stored login (expired or revoked)",
                ))
            }
            Err(other) => Err(other),
        }
    }

    /// Logged-in state, refreshing if needed; only `LoginRequired` turns into `logged_in: false`.
    pub async fn status(&self) -> Result<AuthStatus, AuthError> {
        let mut status = AuthStatus {
            issuer: self.config.oidc.issuer.clone(),
            storage: self.store.describe(),
            logged_in: false,
            subject: None,
            email: None,
            expires_at: None,
        };
        match self.access_token().await {
            Ok(access) => {
                status.logged_in = true;
                status.expires_at = access.expires_at;
                if let Some(claims) = access.claims {
                    status.subject = claims.subject;
                    status.email = claims.email;
                }
                Ok(status)
            }
            Err(AuthError::LoginRequired { .. }) => Ok(status),
            Err(other) => Err(other),
        }
    }

    /// Removes the stored tokens; with `revoke`, first asks the IdP to revoke the refresh token
    /// (best effort: an unreachable IdP must not keep a user from logging out).
    pub async fn logout(&self, revoke: bool) -> Result<LogoutOutcome, AuthError> {
        let _lock = self.lock().await?;
        let stored = self.store.load(&self.config.context).await?;
        let mut revoked = false;
        if revoke && let Some(refresh_token) = &stored.refresh_token {
            let revocation = match self.oidc().await {
                Ok(oidc) => oidc.revoke_refresh_token(refresh_token).await,
                Err(err) => Err(err),
            };
            match revocation {
                Ok(done) => revoked = done,
                Err(err) => tracing::warn!(error = %err, "could not revoke the refresh token"),
            }
        }
        let removed = self.store.delete(&self.config.context).await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(LogoutOutcome { removed, revoked })
    }

    async fn oidc(&self) -> Result<&OidcClient, AuthError> {
        self.oidc
            .get_or_try_init(|| OidcClient::discover(self.http.clone(), self.config.oidc.clone()))
            .await
    }

    fn usable_access_token(&self, stored: &StoredTokens) -> Option<AccessToken> {
        let access = AccessToken::new(stored.access_token.clone()?, None);
        (access.issued_by(&self.config.oidc.issuer)
            && access.valid_for_at_least(self.config.refresh_margin))
        .then_some(access)
    }

    fn recall(&self) -> Option<AccessToken> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|access| access.valid_for_at_least(self.config.refresh_margin))
            .cloned()
    }

    fn remember(&self, access: &AccessToken) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(access.clone());
    }

    fn login_required(&self, reason: &str) -> AuthError {
        AuthError::LoginRequired {
            context: self.config.context.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Exclusive lock on `<data dir>/auth/<context>.lock`, held until the returned file drops.
    /// Polls `try_lock` so that waiting never blocks a runtime thread.
    async fn lock(&self) -> Result<File, AuthError> {
        let dir = auth_dir(&self.config.data_dir);
        create_private_dir(&dir)?;
        let path = dir.join(format!(
            "{}.lock",
            file_stem_for_context(&self.config.context)
        ));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| AuthError::TokenFile {
                path: path.clone(),
                source,
            })?;
        let deadline = Instant::now() + self.config.lock_timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(LOCK_RETRY_INTERVAL).await;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(AuthError::LockTimeout {
                        path,
                        timeout: self.config.lock_timeout,
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(AuthError::TokenFile { path, source });
                }
            }
        }
    }
}
