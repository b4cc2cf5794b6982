//! Bearer-token validation against the identity provider: signature by the issuer's JWKS
//! (cached, refetched when a token names an unknown key), issuer, audience and expiry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::service::{Error, Identity};

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Discovery {
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// When the JWKS was last fetched: unknown `kid`s trigger at most one refetch per interval,
    /// so a flood of forged tokens cannot turn the server into a JWKS hammer.
    last_fetch: Mutex<Option<Instant>>,
    userinfo: RwLock<Option<String>>,
    /// Tokens already verified, until they expire: a CLI or CI job sends the same token many
    /// times, and an RSA signature check costs more than the request it guards.
    verified: std::sync::Mutex<HashMap<String, (Identity, i64)>>,
}

/// Bounds the verified-token cache; when full it is simply emptied.
const MAX_CACHED_TOKENS: usize = 10_000;

const REFETCH_INTERVAL: Duration = Duration::from_secs(2);

fn rejected(reason: &str) -> Error {
    Error::unauthenticated(format!("the bearer token was rejected: {reason}"))
        .with_hint("run `plat login` again")
}

impl TokenVerifier {
    pub fn new(issuer: String, audience: String, http: reqwest::Client) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            userinfo: RwLock::new(None),
            verified: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, Error> {
        let now = jiff::Timestamp::now().as_second();
        if let Some((identity, exp)) = self.cached(token)
            && exp > now
        {
            return Ok(identity);
        }
        let (identity, exp) = self.verify_signature(token).await?;
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= MAX_CACHED_TOKENS {
                cache.clear();
            }
            cache.insert(token.to_owned(), (identity.clone(), exp));
        }
        Ok(identity)
    }

    fn cached(&self, token: &str) -> Option<(Identity, i64)> {
        self.verified.lock().ok()?.get(token).cloned()
    }

    async fn verify_signature(&self, token: &str) -> Result<(Identity, i64), Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| rejected("malformed"))?;
        let kid = header.kid.ok_or_else(|| rejected("no key id"))?;
        let (key, algorithm) = match self.key(&kid).await {
            Some(found) => found,
            None => {
                self.refresh_keys().await?;
                self.key(&kid)
                    .await
                    .ok_or_else(|| rejected("unknown signing key"))?
            }
        };
        if header.alg != algorithm {
            return Err(rejected("algorithm mismatch"));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer, &format!("{}/", self.issuer)]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind as Jwt;
            rejected(match err.kind() {
                Jwt::ExpiredSignature => "expired",
                Jwt::InvalidAudience => "wrong audience",
                Jwt::InvalidIssuer => "wrong issuer",
                Jwt::InvalidSignature => "bad signature",
                _ => "invalid",
            })
        })?;
        let email = match data.claims.email {
            Some(email) => Some(email),
            None => self.email_from_userinfo(token).await,
        };
        let identity = Identity::Oidc {
            issuer: self.issuer.clone(),
            subject: data.claims.sub,
            email,
        };
        Ok((identity, data.claims.exp))
    }

    async fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.keys.read().await.get(kid).cloned()
    }

    async fn refresh_keys(&self) -> Result<(), Error> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let unreachable = |err: reqwest::Error| {
            Error::internal(format!(
                "cannot reach the identity provider {}: {err}",
                self.issuer
            ))
        };
        let discovery: Discovery = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        *self.userinfo.write().await = discovery.userinfo_endpoint;
        let set: JwkSet = self
            .http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            let algorithm = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse().ok())
                .unwrap_or(Algorithm::RS256);
            keys.insert(kid, (key, algorithm));
        }
        *self.keys.write().await = keys;
        Ok(())
    }

    /// Some IdPs leave `email` out of access tokens; their userinfo endpoint has it.
    async fn email_from_userinfo(&self, token: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct UserInfo {
            email: Option<String>,
        }
        let endpoint = self.userinfo.read().await.clone()?;
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        let info: UserInfo = response.error_for_status().ok()?.json().await.ok()?;
        info.email
    }
}
