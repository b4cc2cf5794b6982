use std::time::Duration;

use serde_json::json;

use super::idp::{Idp, approving_prompt};
use super::test_http;
use crate::auth::{
    AuthError, InsecureFileStore, OidcClient, OidcConfig, Session, SessionConfig, TokenStore,
};

fn file_session(idp: &Idp, data_dir: &std::path::Path) -> Session {
    Session::new(
        SessionConfig::new("work", idp.config(), data_dir),
        TokenStore::insecure_file(data_dir),
        test_http(),
    )
}

/// Logs `sub` in through a fresh session, as `plat login` would.
async fn login(idp: &Idp, data_dir: &std::path::Path, sub: &'static str, email: &'static str) {
    let session = file_session(idp, data_dir);
    let (prompt, _approver) = approving_prompt(&idp.control, sub, email);
    let access = session.login(&prompt).await.unwrap();
    assert_eq!(
        access.claims.unwrap().email.as_deref(),
        Some(email),
        "login returns the user's token"
    );
}

async fn stored_refresh_token(data_dir: &std::path::Path) -> crate::auth::Secret {
    TokenStore::insecure_file(data_dir)
        .load("work")
        .await
        .unwrap()
        .refresh_token
        .expect("a refresh token is stored")
}

#[tokio::test]
async fn login_stores_tokens_and_a_new_process_reuses_the_access_token() {
    let idp = Idp::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "alice", "alice@acme.test").await;
    let refresh_after_login = stored_refresh_token(data_dir.path()).await;

    // A new Session stands for the next plat invocation.
    let access = file_session(&idp, data_dir.path())
        .access_token()
        .await
        .unwrap();

    assert_eq!(access.claims.unwrap().subject.as_deref(), Some("alice"));
    assert_eq!(
        stored_refresh_token(data_dir.path()).await,
        refresh_after_login,
        "a 300 s token is used as is, without spending the refresh token"
    );
}

#[tokio::test]
async fn expiring_access_token_is_refreshed_and_the_rotated_refresh_token_stored() {
    let idp = Idp::start().await;
    // Tokens living 5 s are always within the 30 s refresh margin.
    idp.control.set_ttl(json!({"access_token_ttl": 5})).await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "alice", "alice@acme.test").await;
    let refresh_after_login = stored_refresh_token(data_dir.path()).await;

    let access = file_session(&idp, data_dir.path())
        .access_token()
        .await
        .unwrap();

    let rotated = stored_refresh_token(data_dir.path()).await;
    assert_ne!(rotated, refresh_after_login);
    assert_eq!(
        access.claims.unwrap().email.as_deref(),
        Some("alice@acme.test")
    );
    // The stored one is the live one: it refreshes again.
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    assert!(client.refresh(&rotated).await.is_ok());
}

#[tokio::test]
async fn revoked_refresh_token_means_login_required_and_is_forgotten() {
    let idp = Idp::start().await;
    idp.control.set_ttl(json!({"access_token_ttl": 5})).await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "alice", "alice@acme.test").await;
    let revoked = idp.control.revoke_refresh("alice").await;
    assert!(revoked["revoked_refresh_tokens"].as_u64().unwrap() >= 1);

    let err = file_session(&idp, data_dir.path())
        .access_token()
        .await
        .unwrap_err();

    assert!(err.is_login_required(), "{err:?}");
    assert_eq!(err.exit(), crate::error::Exit::Unauthenticated);
    assert_eq!(err.hint().as_deref(), Some("plat login"));
    assert_eq!(err.code(), "login_required");
    let left = TokenStore::insecure_file(data_dir.path())
        .load("work")
        .await
        .unwrap();
    assert!(left.is_empty(), "dead tokens are removed: {left:?}");
}

#[tokio::test]
async fn no_stored_login_is_login_required_without_contacting_the_idp() {
    let data_dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback; discovery would fail with IdpUnreachable.
    let session = Session::new(
        SessionConfig::new(
            "work",
            OidcConfig::new("http://127.0.0.1:9", "plat-cli"),
            data_dir.path(),
        ),
        TokenStore::insecure_file(data_dir.path()),
        test_http(),
    );

    let err = session.access_token().await.unwrap_err();

    assert!(
        matches!(&err, AuthError::LoginRequired { context, .. } if context == "work"),
        "{err:?}"
    );
    let status = session.status().await.unwrap();
    assert!(!status.logged_in);
    assert!(status.storage.starts_with("file "), "{}", status.storage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_do_not_both_spend_the_rotating_refresh_token() {
    let idp = Idp::start().await;
    idp.control.set_ttl(json!({"access_token_ttl": 5})).await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "alice", "alice@acme.test").await;

    // Separate sessions and stores, like separate plat processes sharing one data dir. Without
    // the file lock two of them present the same refresh token; oidc-provider then rejects the
    // replay and revokes the grant, so every one of them must succeed here.
    let mut processes = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let session = file_session(&idp, data_dir.path());
        processes.spawn(async move { session.access_token().await });
    }
    let results = processes.join_all().await;

    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let stored = stored_refresh_token(data_dir.path()).await;
    assert!(client.refresh(&stored).await.is_ok(), "the grant survived");
}

#[tokio::test]
async fn status_shows_the_user_and_logout_revokes_and_forgets() {
    let idp = Idp::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "bob", "bob@other.test").await;
    let refresh = stored_refresh_token(data_dir.path()).await;
    let session = file_session(&idp, data_dir.path());

    let status = session.status().await.unwrap();
    assert!(status.logged_in);
    assert_eq!(status.subject.as_deref(), Some("bob"));
    assert_eq!(status.email.as_deref(), Some("bob@other.test"));
    assert_eq!(status.issuer, idp.issuer);
    let expires_in = status
        .expires_at
        .unwrap()
        .duration_since(jiff::Timestamp::now());
    assert!(
        expires_in > jiff::SignedDuration::from_secs(200),
        "{expires_in:?}"
    );

    let outcome = session.logout(true).await.unwrap();

    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    assert!(!session.status().await.unwrap().logged_in);
    assert!(
        !InsecureFileStore::new(data_dir.path())
            .token_path("work")
            .exists()
    );
    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let err = client.refresh(&refresh).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::IdpRejected { code, .. } if code == "invalid_grant"),
        "{err:?}"
    );
    assert!(!session.logout(true).await.unwrap().removed);
}

#[tokio::test]
async fn lock_held_elsewhere_times_out_with_a_clear_error() {
    let idp = Idp::start().await;
    idp.control.set_ttl(json!({"access_token_ttl": 5})).await;
    let data_dir = tempfile::tempdir().unwrap();
    login(&idp, data_dir.path(), "alice", "alice@acme.test").await;
    let lock_path = data_dir.path().join("auth/work.lock");
    let holder = std::fs::File::open(&lock_path).unwrap();
    holder.lock().unwrap();
    let mut config = SessionConfig::new("work", idp.config(), data_dir.path());
    config.lock_timeout = Duration::from_millis(300);
    let session = Session::new(
        config,
        TokenStore::insecure_file(data_dir.path()),
        test_http(),
    );

    let err = session.access_token().await.unwrap_err();

    assert!(
        matches!(&err, AuthError::LockTimeout { path, .. } if *path == lock_path),
        "{err:?}"
    );
    holder.unlock().unwrap();
    assert!(session.access_token().await.is_ok());
}
