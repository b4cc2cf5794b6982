//! Bearer-token validation against the identity provider: signature by the issuer's JWKS
//! (cached, refetched when a token names an unknown key), issuer, audience and expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use crate::service::trust::normalize_issuer;
use crate::service::{Error, Identity, Service};

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    /// Every other claim: the username and groups claims are configured by name.
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// Which claims name the user and list the user's IdP groups (R-GOV-1), as
/// kube-apiserver's `--oidc-username-claim` / `--oidc-groups-claim`.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    /// The claim whose value links a subject to a platform user (`email` by default).
    pub username: String,
    /// The claim listing the user's IdP groups; `None` reads no groups.
    pub groups: Option<String>,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            username: "email".into(),
            groups: None,
        }
    }
}

/// A claim by name, or else by dotted path into nested objects (Keycloak's
/// `realm_access.roles`). The whole name is tried first: some IdPs put dots in claim names
/// (Auth0's `https://example.com/groups`).
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let (first, rest) = name.split_once('.')?;
    match claims.get(first)? {
        Value::Object(inner) => claim(inner, rest),
        _ => None,
    }
}

/// A username claim's value: a string (a number, as some IdPs send `sub`-like ids, as text).
fn username_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A groups claim's value: a list of strings, or one string. Anything else names no group.
fn groups_of(value: Option<&Value>) -> Vec<String> {
    let mut groups: Vec<String> = match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    // Sorted, so that the same groups in another order are the same identity (actor cache).
    groups.sort();
    groups.dedup();
    groups
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    claims: ClaimNames,
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
    pub fn new(
        issuer: String,
        audience: String,
        claims: ClaimNames,
        http: reqwest::Client,
    ) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience,
            claims,
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
        self.remember(token, &identity, exp);
        Ok(identity)
    }

    fn cached(&self, token: &str) -> Option<(Identity, i64)> {
        self.verified.lock().ok()?.get(token).cloned()
    }

    /// A token of an issuer an account trusts (R-GOV-5): signature by the issuer's JWKS,
    /// `exp`, `nbf`, and an `aud` among `audiences` (those of the issuer's rules). Which rule,
    /// if any, it matches is the service's to decide.
    pub(crate) async fn verify_federated(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Identity, Error> {
        let now = jiff::Timestamp::now().as_second();
        if let Some((identity, exp)) = self.cached(token)
            && exp > now
        {
            return Ok(identity);
        }
        let data = self.decode(token, audiences).await?;
        let mut claims = std::collections::BTreeMap::new();
        for (name, value) in &data.claims.other {
            match value {
                Value::String(text) => claims.insert(name.clone(), text.clone()),
                Value::Number(number) => claims.insert(name.clone(), number.to_string()),
                Value::Bool(flag) => claims.insert(name.clone(), flag.to_string()),
                _ => None,
            };
        }
        let token_audiences = match data.claims.other.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        claims.remove("aud");
        claims.insert("sub".into(), data.claims.sub);
        let identity = Identity::Federated {
            issuer: self.issuer.clone(),
            audiences: token_audiences,
            claims,
        };
        self.remember(token, &identity, data.claims.exp);
        Ok(identity)
    }

    fn remember(&self, token: &str, identity: &Identity, exp: i64) {
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= MAX_CACHED_TOKENS {
                cache.clear();
            }
            cache.insert(token.to_owned(), (identity.clone(), exp));
        }
    }

    /// Checks the signature (by the issuer's JWKS, refetched once for an unknown key), the
    /// issuer, one of `audiences`, `exp`, `nbf` and the presence of `sub`.
    async fn decode(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<jsonwebtoken::TokenData<Claims>, Error> {
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
        validation.set_audience(audiences);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind as Jwt;
            rejected(match err.kind() {
                Jwt::ExpiredSignature => "expired",
                Jwt::ImmatureSignature => "not valid yet",
                Jwt::InvalidAudience => "wrong audience",
                Jwt::InvalidIssuer => "wrong issuer",
                Jwt::InvalidSignature => "bad signature",
                _ => "invalid",
            })
        })
    }

    async fn verify_signature(&self, token: &str) -> Result<(Identity, i64), Error> {
        let data = self
            .decode(token, std::slice::from_ref(&self.audience))
            .await?;
        let claims = data.claims;
        // `sub` is required and parsed on its own, so it is not among the other claims.
        let username = if self.claims.username == "sub" {
            Some(claims.sub.clone())
        } else {
            match claim(&claims.other, &self.claims.username) {
                Some(value) => username_of(value),
                None => self.username_from_userinfo(token).await,
            }
        };
        let groups = match &self.claims.groups {
            Some(name) => groups_of(claim(&claims.other, name)),
            None => Vec::new(),
        };
        let identity = Identity::Oidc {
            issuer: self.issuer.clone(),
            subject: claims.sub,
            email: username,
            groups,
        };
        Ok((identity, claims.exp))
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
        let discovery = crate::auth::ProviderMetadata::discover(&self.http, &self.issuer)
            .await
            .map_err(|err| {
                Error::internal(format!(
                    "cannot reach the identity provider {}: {err}",
                    self.issuer
                ))
            })?;
        let jwks_uri = discovery.jwks_uri.ok_or_else(|| {
            Error::internal(format!(
                "the identity provider {} publishes no jwks_uri",
                self.issuer
            ))
        })?;
        // OpenID Connect Discovery wants the keys over TLS: an https issuer naming a plain-http
        // key set is a misconfiguration, or an attempt to make the server fetch elsewhere.
        if self.issuer.starts_with("https://") && !jwks_uri.starts_with("https://") {
            return Err(Error::internal(format!(
                "the identity provider {} publishes a jwks_uri that is not https",
                self.issuer
            )));
        }
        *self.userinfo.write().await = discovery.userinfo_endpoint;
        let set: JwkSet = self
            .http
            .get(&jwks_uri)
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

    /// Some IdPs leave the username claim (often `email`) out of access tokens; their userinfo
    /// endpoint has it.
    async fn username_from_userinfo(&self, token: &str) -> Option<String> {
        let endpoint = self.userinfo.read().await.clone()?;
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        let info: Map<String, Value> = response.error_for_status().ok()?.json().await.ok()?;
        claim(&info, &self.claims.username).and_then(username_of)
    }
}

/// The primary identity provider's verifier, and one per external issuer that some account's
/// trust rules name (R-GOV-5), each discovering and caching its issuer's keys the same way.
pub(crate) struct Verifiers {
    primary: TokenVerifier,
    http: reqwest::Client,
    trusted: RwLock<HashMap<String, Arc<TokenVerifier>>>,
}

/// Only the `iss` claim, read before the signature is checked to pick the keys to check it with.
#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

impl Verifiers {
    pub(crate) fn new(primary: TokenVerifier, http: reqwest::Client) -> Self {
        Self {
            primary,
            http,
            trusted: RwLock::new(HashMap::new()),
        }
    }

    /// A token of the primary IdP, or of an issuer a trust rule names; any other issuer is
    /// rejected. A token whose issuer cannot be read is checked (and rejected) as the IdP's.
    pub(crate) async fn verify(&self, token: &str, service: &Service) -> Result<Identity, Error> {
        let issuer = jsonwebtoken::dangerous::insecure_decode::<IssuerOnly>(token)
            .ok()
            .and_then(|data| data.claims.iss)
            .map(|iss| normalize_issuer(&iss).to_owned());
        let Some(issuer) = issuer.filter(|iss| *iss != self.primary.issuer) else {
            return self.primary.verify(token).await;
        };
        // A job sends the same token with each command: once verified, its identity is known
        // until it expires (which rule it matches is decided afresh by the service).
        if let Some(verifier) = self.trusted.read().await.get(&issuer)
            && let Some((identity, exp)) = verifier.cached(token)
            && exp > jiff::Timestamp::now().as_second()
        {
            return Ok(identity);
        }
        // Plain http only where the server's own IdP is on plain http (a test or development
        // setup): an account admin must not make the server fetch from its loopback services.
        if issuer.starts_with("http://") && !self.primary.issuer.starts_with("http://") {
            return Err(rejected("its issuer is not trusted here"));
        }
        let audiences = service.trusted_audiences(&issuer).await?;
        if audiences.is_empty() {
            // Neither the IdP nor an issuer any account trusts: no key of its is ever fetched.
            return Err(rejected("its issuer is not trusted here"));
        }
        self.trusted_verifier(&issuer)
            .await
            .verify_federated(token, &audiences)
            .await
    }

    async fn trusted_verifier(&self, issuer: &str) -> Arc<TokenVerifier> {
        if let Some(verifier) = self.trusted.read().await.get(issuer) {
            return verifier.clone();
        }
        let mut trusted = self.trusted.write().await;
        trusted
            .entry(issuer.to_owned())
            .or_insert_with(|| {
                Arc::new(TokenVerifier::new(
                    issuer.to_owned(),
                    String::new(),
                    ClaimNames::default(),
                    self.http.clone(),
                ))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_gov_1_claims_are_found_by_name_or_by_dotted_path() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "upn": "carol@acme.test",
            "groups": ["/acme/release", "/acme/dev", "/acme/release", 7],
            "realm_access": { "roles": ["release-manager"] },
            "https://acme.test/groups": "ops",
            "oid": 42,
        }))
        .unwrap_or_default();
        let username = claim(&claims, "upn").and_then(username_of);
        assert_eq!(username.as_deref(), Some("carol@acme.test"));
        assert_eq!(
            claim(&claims, "oid").and_then(username_of).as_deref(),
            Some("42")
        );
        assert_eq!(
            groups_of(claim(&claims, "groups")),
            ["/acme/dev", "/acme/release"]
        );
        assert_eq!(
            groups_of(claim(&claims, "realm_access.roles")),
            ["release-manager"]
        );
        assert_eq!(
            groups_of(claim(&claims, "https://acme.test/groups")),
            ["ops"]
        );
        assert!(groups_of(claim(&claims, "realm_access.missing")).is_empty());
        assert!(groups_of(claim(&claims, "upn.roles")).is_empty());
        assert!(claim(&claims, "email").is_none());
    }
}
