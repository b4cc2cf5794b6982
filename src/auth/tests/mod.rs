#![allow(clippy::disallowed_methods)] // tests read what the test script set up (keyring bus, IdP log)
//! Tests run against real components: the oidc-provider IdP in tests/support/idp (node),
//! real files, and (with `PLAT_TEST_KEYRING=1`, under dbus-run-session + gnome-keyring) the real
//! Secret Service.

mod bench;
mod idp;
mod keyring;
mod oidc_flow;
mod session_flow;
mod store_file;
mod values;

use std::time::Duration;

pub(super) fn test_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    super::http_client(Duration::from_secs(10)).expect("reqwest client builds")
}
