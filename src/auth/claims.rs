use jiff::Timestamp;
use serde::Deserialize;

use super::error::AuthError;
use super::secret::Secret;

/// The claims `plat auth status` shows. They are read WITHOUT signature verification: they only
/// describe the token to its own holder, and the server verifies every token it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub audience: Vec<String>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    aud: Audience,
    exp: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

pub fn decode_claims(token: &Secret) -> Result<TokenClaims, AuthError> {
    let decoded =
        jsonwebtoken::dangerous::insecure_decode::<RawClaims>(token.expose()).map_err(|err| {
            AuthError::MalformedToken {
                // jsonwebtoken's messages describe the failing part, never the token text.
                reason: err.to_string(),
            }
        })?;
    let raw = decoded.claims;
    let expires_at = match raw.exp {
        Some(seconds) => {
            Some(
                Timestamp::from_second(seconds).map_err(|err| AuthError::MalformedToken {
                    reason: format!("`exp` out of range: {err}"),
                })?,
            )
        }
        None => None,
    };
    Ok(TokenClaims {
        issuer: raw.iss,
        subject: raw.sub,
        email: raw.email,
        name: raw.name,
        audience: match raw.aud {
            Audience::None => Vec::new(),
            Audience::One(one) => vec![one],
            Audience::Many(many) => many,
        },
        expires_at,
    })
}
