use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::auth::{AuthError, Secret, StoredTokens, decode_claims};

#[test]
fn secrets_never_show_in_debug_output() {
    let token = Secret::new("eyJ-very-secret");
    let stored = StoredTokens {
        refresh_token: Some(token.clone()),
        access_token: Some(Secret::new("eyJ-access")),
    };

    assert_eq!(format!("{token:?}"), "Secret(***)");
    let debug = format!("{stored:?}");
    assert!(!debug.contains("eyJ"), "{debug}");
    assert!(debug.contains("Secret(***)"));
    assert_eq!(token.expose(), "eyJ-very-secret");
}

fn signed(claims: serde_json::Value) -> Secret {
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"unused: plat does not verify"),
    )
    .unwrap();
    Secret::new(token)
}

#[test]
fn claims_are_read_without_verification() {
    let token = signed(json!({
        "iss": "https://id.example", "sub": "alice", "email": "alice@acme.test",
        "name": "Alice", "aud": ["urn:plat:api", "account"], "exp": 2_000_000_000
    }));

    let claims = decode_claims(&token).unwrap();

    assert_eq!(claims.subject.as_deref(), Some("alice"));
    assert_eq!(claims.email.as_deref(), Some("alice@acme.test"));
    assert_eq!(claims.name.as_deref(), Some("Alice"));
    assert_eq!(claims.audience, vec!["urn:plat:api", "account"]);
    assert_eq!(claims.expires_at.unwrap().as_second(), 2_000_000_000);
}

#[test]
fn missing_claims_are_none_and_garbage_is_malformed() {
    let minimal = decode_claims(&signed(json!({"sub": "svc"}))).unwrap();
    assert_eq!(minimal.subject.as_deref(), Some("svc"));
    assert!(minimal.email.is_none() && minimal.expires_at.is_none());
    assert!(minimal.audience.is_empty());

    let err = decode_claims(&Secret::new("opaque-token-value")).unwrap_err();
    assert!(matches!(err, AuthError::MalformedToken { .. }), "{err:?}");
    assert!(!err.to_string().contains("opaque-token-value"), "{err}");
}

#[test]
fn exit_codes_follow_the_cli_contract() {
    let login = AuthError::LoginRequired {
        context: "work".into(),
        reason: "no login is stored for this context".into(),
    };
    let keyring = AuthError::KeyringUnavailable {
        reason: "org.freedesktop.secrets was not provided".into(),
    };

    assert_eq!(login.exit(), crate::error::Exit::Unauthenticated);
    assert_eq!(
        login.to_string(),
        "not logged in to context `work`: no login is stored for this context"
    );
    assert_eq!(keyring.exit(), crate::error::Exit::Failure);
    assert!(
        keyring
            .hint()
            .unwrap()
            .starts_with("plat login --insecure-storage")
    );
}
