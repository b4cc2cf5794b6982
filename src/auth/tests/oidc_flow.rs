use std::time::{Duration, Instant};

use serde_json::json;

use super::idp::{AUDIENCE, Idp, approving_prompt, forwarding_prompt};
use super::test_http;
use crate::auth::{AuthError, OidcClient, OidcConfig, decode_claims};

#[tokio::test]
async fn device_flow_with_pkce_returns_tokens_for_the_approving_user() {
    let idp = Idp::start().await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    assert!(client.supports_device_flow());
    let (prompt, approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");

    let tokens = client.device_login(&prompt).await.unwrap();

    let shown = approver.await.unwrap();
    assert!(shown.verification_uri.starts_with(&idp.issuer), "{shown:?}");
    let complete = shown.verification_uri_complete.expect("IdP sends it");
    assert!(complete.contains(&shown.user_code), "{complete}");
    assert_eq!(shown.interval, Duration::from_secs(1));
    let claims = decode_claims(&tokens.access_token).unwrap();
    assert_eq!(claims.subject.as_deref(), Some("alice"));
    assert_eq!(claims.email.as_deref(), Some("alice@acme.test"));
    assert_eq!(claims.issuer.as_deref(), Some(idp.issuer.as_str()));
    assert_eq!(claims.audience, vec![AUDIENCE.to_owned()]);
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access yields a refresh token"
    );
    assert!(tokens.expires_at.is_some());
}

#[tokio::test]
async fn device_flow_succeeds_when_the_idp_requires_pkce() {
    let idp = Idp::start_with(&[("IDP_REQUIRE_PKCE", "1")]).await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, _approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");

    let tokens = client.device_login(&prompt).await.unwrap();

    let claims = decode_claims(&tokens.access_token).unwrap();
    assert_eq!(claims.subject.as_deref(), Some("alice"));
}

#[tokio::test]
async fn device_flow_without_pkce_is_refused_by_an_idp_requiring_it() {
    // Proves the success above is due to the verifier plat sends, not to a lax IdP.
    let idp = Idp::start_with(&[("IDP_REQUIRE_PKCE", "1")]).await;
    let config = OidcConfig {
        use_pkce: false,
        ..idp.config()
    };
    let client = OidcClient::discover(test_http(), config).await.unwrap();
    let (prompt, _approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");

    let err = client.device_login(&prompt).await.unwrap_err();

    assert!(
        matches!(&err, AuthError::IdpRejected { code, .. } if code == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn device_flow_sends_the_resource_indicator() {
    let idp = Idp::start().await;
    let config = idp.config().with_resource("urn:other:api");
    let client = OidcClient::discover(test_http(), config).await.unwrap();
    let (prompt, _approver) = approving_prompt(&idp.control, "bob", "bob@other.test");

    let tokens = client.device_login(&prompt).await.unwrap();

    let claims = decode_claims(&tokens.access_token).unwrap();
    assert_eq!(claims.audience, vec!["urn:other:api".to_owned()]);
    assert_eq!(claims.email.as_deref(), Some("bob@other.test"));
}

#[tokio::test]
async fn device_flow_waits_five_more_seconds_after_slow_down() {
    let idp = Idp::start().await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, mut shown) = forwarding_prompt();
    let control = idp.control.clone();
    let approver = tokio::spawn(async move {
        let device = shown.recv().await.unwrap();
        control
            .post(
                "/test/slow-down",
                json!({"user_code": device.user_code, "count": 1}),
            )
            .await;
        // Late enough that one poll has met the slow_down answer.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        control
            .approve(&device.user_code, "alice", "alice@acme.test")
            .await;
    });
    let started = Instant::now();

    let tokens = client.device_login(&prompt).await.unwrap();

    approver.await.unwrap();
    let elapsed = started.elapsed();
    // Interval 1 s: without honouring slow_down the token arrives ~3 s in; with it the poll
    // after the slow_down waits 1 + 5 s.
    assert!(elapsed >= Duration::from_secs(6), "took only {elapsed:?}");
    // Generous: the machine is shared, and only the lower bound tells slow_down apart.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(decode_claims(&tokens.access_token).is_ok());
}

#[tokio::test]
async fn denied_login_is_an_access_denied_error_with_exit_code_4() {
    let idp = Idp::start().await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, mut shown) = forwarding_prompt();
    let control = idp.control.clone();
    tokio::spawn(async move {
        let device = shown.recv().await.unwrap();
        control.deny(&device.user_code).await;
    });

    let err = client.device_login(&prompt).await.unwrap_err();

    assert!(matches!(err, AuthError::AccessDenied), "{err:?}");
    assert_eq!(err.exit(), crate::error::Exit::Unauthenticated);
    assert_eq!(err.code(), "access_denied");
    assert!(err.hint().unwrap().contains("plat login"));
}

#[tokio::test]
async fn unapproved_code_ends_in_device_code_expired() {
    let idp = Idp::start_with(&[("IDP_DEVICE_CODE_TTL", "2")]).await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, mut shown) = forwarding_prompt();
    let started = Instant::now();

    let err = client.device_login(&prompt).await.unwrap_err();

    assert_eq!(
        shown.recv().await.unwrap().expires_in,
        Duration::from_secs(2)
    );
    assert!(matches!(err, AuthError::DeviceCodeExpired), "{err:?}");
    assert_eq!(err.exit(), crate::error::Exit::Unauthenticated);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        err.to_string(),
        "the login code expired before it was approved"
    );
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_rejects_the_old_one() {
    let idp = Idp::start().await;
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, _approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");
    let first = client.device_login(&prompt).await.unwrap();
    let first_refresh = first.refresh_token.unwrap();

    let second = client.refresh(&first_refresh).await.unwrap();

    let second_refresh = second.refresh_token.expect("oidc-provider rotates");
    assert_ne!(second_refresh, first_refresh);
    let claims = decode_claims(&second.access_token).unwrap();
    assert_eq!(claims.subject.as_deref(), Some("alice"));
    assert_eq!(claims.audience, vec![AUDIENCE.to_owned()]);
    let replay = client.refresh(&first_refresh).await.unwrap_err();
    assert!(
        matches!(&replay, AuthError::IdpRejected { code, .. } if code == "invalid_grant"),
        "{replay:?}"
    );
}

#[tokio::test]
async fn unreachable_idp_error_names_the_url() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}/realms/test");

    let err = OidcClient::discover(test_http(), OidcConfig::new(&issuer, "plat-cli"))
        .await
        .unwrap_err();

    let message = err.to_string();
    assert!(matches!(err, AuthError::IdpUnreachable { .. }), "{err:?}");
    assert!(
        message.contains(&format!("{issuer}/.well-known/openid-configuration")),
        "{message}"
    );
    assert!(
        !message.contains("backtrace") && !message.contains('\n'),
        "{message}"
    );
    assert_eq!(err.exit(), crate::error::Exit::Failure);
    assert!(err.hint().unwrap().contains("issuer"));
}

#[tokio::test]
async fn discovery_rejects_a_document_for_another_issuer() {
    let idp = Idp::start().await;
    let aliased = idp.issuer.replace("127.0.0.1", "localhost");

    let err = OidcClient::discover(test_http(), OidcConfig::new(&aliased, "plat-cli"))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, AuthError::IssuerMismatch { found, .. } if *found == idp.issuer),
        "{err:?}"
    );
}

#[tokio::test]
async fn issuer_with_a_path_is_discovered_under_that_path() {
    let idp = Idp::start_with(&[("IDP_ISSUER", "http://127.0.0.1:{port}/realms/test")]).await;
    assert!(idp.issuer.ends_with("/realms/test"));
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let (prompt, _approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");

    let tokens = client.device_login(&prompt).await.unwrap();

    let claims = decode_claims(&tokens.access_token).unwrap();
    assert_eq!(claims.issuer.as_deref(), Some(idp.issuer.as_str()));
}
