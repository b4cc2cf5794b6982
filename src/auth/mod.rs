//! Client-side authentication: OIDC device flow (RFC 8628 + PKCE), refresh, and token storage.
//!
//! The library never prints: the device code reaches the user through a [`DevicePrompt`] the
//! caller supplies, and warnings (such as for `--insecure-storage`) are the caller's job.
//!
//! Token precedence (`PLAT_TOKEN` env, keyring, insecure file) is decided by the caller, which
//! builds the matching [`TokenStore`] and hands it to a [`Session`].

mod claims;
mod error;
pub mod github_actions;
mod oidc;
mod secret;
mod session;
mod store;

pub use claims::decode_claims;
pub use error::AuthError;
/// The server's token checks discover the issuer with the same code as the CLI's login.
#[cfg(feature = "server")]
pub(crate) use oidc::ProviderMetadata;
pub use oidc::{DeviceAuthorization, OidcConfig, http_client};
pub use secret::Secret;
pub use session::{AuthStatus, Session, SessionConfig};
pub use store::{StoredTokens, TokenStore};
// What only this module's tests reach for by its short path.
#[cfg(test)]
use {
    oidc::OidcClient,
    store::{InsecureFileStore, KeyringStore, MAX_KEYRING_SECRET_BYTES},
};

#[cfg(test)]
mod tests;
