//! The OS keyring. Round trips need a Secret Service, so they run only with
//! `PLAT_TEST_KEYRING=1`, which the test script sets when it runs the suite under
//! `dbus-run-session` with an unlocked gnome-keyring. The failure tests need no bus: they run in
//! a child test process whose `DBUS_SESSION_BUS_ADDRESS` points at a dead or silent socket.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::auth::{AuthError, KeyringStore, Secret, StoredTokens, TokenStore};

fn keyring_tests_enabled() -> bool {
    if std::env::var_os("PLAT_TEST_KEYRING").is_some_and(|value| value == "1") {
        return true;
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "skipped: set PLAT_TEST_KEYRING=1 and run under `dbus-run-session` with an unlocked \
             gnome-keyring to test the real Secret Service"
        );
    }
    false
}

#[tokio::test]
async fn keyring_stores_reads_and_deletes_the_refresh_token() {
    if !keyring_tests_enabled() {
        return;
    }
    let store = TokenStore::Keyring(KeyringStore::new(Duration::from_secs(10)));
    let context = format!("plat-test-{}", std::process::id());
    store.probe().await.unwrap();
    let tokens = StoredTokens {
        refresh_token: Some(Secret::new("refresh-token-value")),
        access_token: Some(Secret::new("access-token-value")),
    };

    store.save(&context, &tokens).await.unwrap();
    let loaded = store.load(&context).await.unwrap();
    store
        .save(
            &context,
            &StoredTokens {
                refresh_token: Some(Secret::new("rotated")),
                access_token: None,
            },
        )
        .await
        .unwrap();
    let after_rotation = store.load(&context).await.unwrap();
    let deleted = store.delete(&context).await.unwrap();
    let deleted_again = store.delete(&context).await.unwrap();

    assert_eq!(loaded, tokens);
    assert_eq!(after_rotation.refresh_token, Some(Secret::new("rotated")));
    assert_eq!(
        after_rotation.access_token, None,
        "stale access token dropped"
    );
    assert!(deleted && !deleted_again);
    assert!(store.load(&context).await.unwrap().is_empty());
}

#[tokio::test]
async fn keyring_refuses_refresh_tokens_over_the_portable_limit() {
    if !keyring_tests_enabled() {
        return;
    }
    let store = TokenStore::Keyring(KeyringStore::new(Duration::from_secs(10)));
    let context = format!("plat-test-big-{}", std::process::id());
    let oversized = StoredTokens {
        refresh_token: Some(Secret::new(
            "x".repeat(crate::auth::MAX_KEYRING_SECRET_BYTES + 1),
        )),
        access_token: None,
    };

    let err = store.save(&context, &oversized).await.unwrap_err();

    assert!(matches!(err, AuthError::KeyringRejected { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("--insecure-storage"));
    assert!(store.load(&context).await.unwrap().is_empty());
}

const CHILD_EXPECTATION: &str = "PLAT_TEST_KEYRING_CHILD_EXPECT";

/// Runs `child_probe_reports_an_unusable_keyring` in a fresh test process with the given bus.
fn run_child_probe(bus_address: &str, expectation: &str) -> std::process::Output {
    let module = module_path!()
        .split_once("::")
        .map(|(_crate_name, path)| path)
        .unwrap_or(module_path!());
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{module}::child_probe_reports_an_unusable_keyring"),
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        // Without DISPLAY libdbus cannot try X11 autolaunch, which could find a real bus.
        .env_remove("DISPLAY")
        .env(CHILD_EXPECTATION, expectation)
        .output()
        .unwrap()
}

#[test]
fn probe_fails_fast_with_the_insecure_storage_hint_when_there_is_no_bus() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-bus");
    let started = Instant::now();

    let output = run_child_probe(&format!("unix:path={}", missing.display()), "unavailable");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("child asserted: unavailable"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[cfg(unix)]
#[test]
fn probe_times_out_when_the_bus_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent-bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Accepts connections and never says a word, like a wedged D-Bus daemon.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            held.push(connection);
        }
    });

    let output = run_child_probe(&format!("unix:path={}", socket.display()), "timeout");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("child asserted: timeout"), "{stdout}");
}

#[test]
#[ignore = "run in a child process by the probe_* tests above"]
fn child_probe_reports_an_unusable_keyring() {
    let expectation = std::env::var(CHILD_EXPECTATION).expect("started by a parent test");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let timeout = Duration::from_secs(1);
    let started = Instant::now();

    let err = runtime
        .block_on(TokenStore::Keyring(KeyringStore::new(timeout)).probe())
        .unwrap_err();

    let elapsed = started.elapsed();
    match expectation.as_str() {
        "unavailable" => assert!(
            matches!(err, AuthError::KeyringUnavailable { .. }),
            "{err:?}"
        ),
        "timeout" => assert!(matches!(err, AuthError::KeyringTimeout { .. }), "{err:?}"),
        other => panic!("unknown expectation {other}"),
    }
    assert!(
        elapsed < timeout + Duration::from_millis(900),
        "{elapsed:?}"
    );
    assert_eq!(err.exit(), crate::error::Exit::Failure);
    assert!(
        err.hint()
            .unwrap()
            .starts_with("plat login --insecure-storage"),
        "{err:?}"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("child asserted: {expectation}");
    }
    // The runtime is dropped while a keyring thread may still hang: returning proves that a
    // wedged bus cannot keep plat from exiting.
    drop(runtime);
}
