//! Timings of the paths every authenticated plat command takes. Ignored by default; run with
//! `cargo test --lib auth::tests::bench -- --ignored --nocapture` (add `PLAT_TEST_KEYRING=1`
//! under dbus-run-session + gnome-keyring for the keyring figure).
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use serde_json::json;

use super::idp::{Idp, approving_prompt};
use super::test_http;
use crate::auth::{KeyringStore, OidcClient, Session, SessionConfig, TokenStore};

fn report(label: &str, runs: u32, total: Duration) {
    println!("{label}: {runs} runs, {:?} each", total / runs);
}

#[tokio::test]
#[ignore = "benchmark: prints timings"]
async fn bench_access_token_paths() {
    let idp = Idp::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    // Built once: building a reqwest client is plat's cost, not this module's.
    let http = test_http();
    let session_with = |store: TokenStore| {
        Session::new(
            SessionConfig::new("bench", idp.config(), data_dir.path()),
            store,
            http.clone(),
        )
    };

    let started = Instant::now();
    let (prompt, _approver) = approving_prompt(&idp.control, "alice", "alice@acme.test");
    session_with(TokenStore::insecure_file(data_dir.path()))
        .login(&prompt)
        .await
        .unwrap();
    report(
        "device login incl. discovery (interval 1 s)",
        1,
        started.elapsed(),
    );

    let runs = 200;
    let started = Instant::now();
    for _ in 0..runs {
        session_with(TokenStore::insecure_file(data_dir.path()))
            .access_token()
            .await
            .unwrap();
    }
    report(
        "new process, valid token in file store",
        runs,
        started.elapsed(),
    );

    let client = OidcClient::discover(test_http(), idp.config())
        .await
        .unwrap();
    let mut refresh = TokenStore::insecure_file(data_dir.path())
        .load("bench")
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let runs = 30;
    let started = Instant::now();
    for _ in 0..runs {
        refresh = client
            .refresh(&refresh)
            .await
            .unwrap()
            .refresh_token
            .unwrap();
    }
    report(
        "refresh grant round trip (loopback IdP)",
        runs,
        started.elapsed(),
    );

    idp.control.set_ttl(json!({"access_token_ttl": 5})).await;
    let store = TokenStore::insecure_file(data_dir.path());
    let mut stored = store.load("bench").await.unwrap();
    stored.refresh_token = Some(
        client
            .refresh(&refresh)
            .await
            .unwrap()
            .refresh_token
            .unwrap(),
    );
    stored.access_token = None;
    store.save("bench", &stored).await.unwrap();
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        session_with(TokenStore::insecure_file(data_dir.path()))
            .access_token()
            .await
            .unwrap();
    }
    report(
        "new process, token expiring: lock + discovery + refresh + save",
        runs,
        started.elapsed(),
    );

    if std::env::var_os("PLAT_TEST_KEYRING").is_some_and(|value| value == "1") {
        let keyring = TokenStore::Keyring(KeyringStore::new(Duration::from_secs(10)));
        keyring.save("plat-bench", &stored).await.unwrap();
        let runs = 50;
        let started = Instant::now();
        for _ in 0..runs {
            // A new store per run: each plat process connects to the bus again.
            TokenStore::Keyring(KeyringStore::new(Duration::from_secs(10)))
                .load("plat-bench")
                .await
                .unwrap();
        }
        report("keyring load (connect + 2 reads)", runs, started.elapsed());
        let started = Instant::now();
        keyring.probe().await.unwrap();
        report("keyring probe", 1, started.elapsed());
        assert!(keyring.delete("plat-bench").await.unwrap());
    }
}
