//! Where the refresh token lives between runs.
//!
//! Linux uses the Secret Service (GNOME Keyring, KWallet) over D-Bus. keyutils is deliberately
//! not a fallback: its keys die with the login session or a reboot, so users would be logged out
//! silently; when the Secret Service is missing, `probe()` fails and points at
//! `--insecure-storage` instead. macOS uses the login keychain, Windows the Credential Manager.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};

use super::error::AuthError;
use super::secret::Secret;

/// Keyring service under which the refresh token is stored; the account is the context name.
pub const KEYRING_SERVICE: &str = "plat";
/// The access token is only a cache, kept apart so it can be dropped when it does not fit.
const ACCESS_TOKEN_SERVICE: &str = "plat-access-token";
const PROBE_SERVICE: &str = "plat-keyring-probe";

/// Windows Credential Manager's blob limit; tokens are stored as UTF-8 bytes, so this is bytes.
pub const MAX_KEYRING_SECRET_BYTES: usize = 2560;
/// A keyring that has not answered by then is treated as unusable (a hung D-Bus or an unlock
/// prompt nobody will see must not hang plat).
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// The tokens kept for one context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTokens {
    pub refresh_token: Option<Secret>,
    pub access_token: Option<Secret>,
}

impl StoredTokens {
    pub fn is_empty(&self) -> bool {
        self.refresh_token.is_none() && self.access_token.is_none()
    }
}

/// Token storage chosen by the caller: the OS keyring, or a 0600 file for `--insecure-storage`.
#[derive(Debug, Clone)]
pub enum TokenStore {
    Keyring(KeyringStore),
    InsecureFile(InsecureFileStore),
}

impl TokenStore {
    pub fn os_keyring() -> Self {
        Self::Keyring(KeyringStore::new(DEFAULT_KEYRING_TIMEOUT))
    }

    pub fn insecure_file(data_dir: impl Into<PathBuf>) -> Self {
        Self::InsecureFile(InsecureFileStore::new(data_dir))
    }

    #[cfg(test)]
    pub fn is_insecure(&self) -> bool {
        matches!(self, Self::InsecureFile(_))
    }

    /// Human description for `plat auth status`.
    pub fn describe(&self) -> String {
        match self {
            Self::Keyring(_) => format!("OS keyring ({})", KeyringStore::backend_name()),
            Self::InsecureFile(store) => format!("file {}", store.dir().display()),
        }
    }

    /// Checks that tokens can be written and read back. Run it BEFORE the device flow, so an
    /// unusable keyring is found before the user approves a login whose tokens would be lost.
    pub async fn probe(&self) -> Result<(), AuthError> {
        match self {
            Self::Keyring(store) => store.probe().await,
            Self::InsecureFile(store) => store.probe(),
        }
    }

    pub async fn load(&self, context: &str) -> Result<StoredTokens, AuthError> {
        match self {
            Self::Keyring(store) => store.load(context).await,
            Self::InsecureFile(store) => store.load(context),
        }
    }

    pub async fn save(&self, context: &str, tokens: &StoredTokens) -> Result<(), AuthError> {
        match self {
            Self::Keyring(store) => store.save(context, tokens).await,
            Self::InsecureFile(store) => store.save(context, tokens),
        }
    }

    /// Forgets the context's tokens. Returns whether anything was stored.
    pub async fn delete(&self, context: &str) -> Result<bool, AuthError> {
        match self {
            Self::Keyring(store) => store.delete(context).await,
            Self::InsecureFile(store) => store.delete(context),
        }
    }
}

/// The platform's credential store, reached on a helper thread under a timeout.
#[derive(Clone)]
pub struct KeyringStore {
    timeout: Duration,
    backend: Arc<Mutex<Option<Arc<CredentialStore>>>>,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("backend", &Self::backend_name())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl KeyringStore {
    /// No I/O happens here: the platform store is connected on first use.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            backend: Arc::new(Mutex::new(None)),
        }
    }

    pub fn backend_name() -> &'static str {
        if cfg!(target_os = "macos") {
            "macOS keychain"
        } else if cfg!(target_os = "windows") {
            "Windows Credential Manager"
        } else if cfg!(target_os = "linux") {
            "Secret Service"
        } else {
            "unsupported"
        }
    }

    pub async fn probe(&self) -> Result<(), AuthError> {
        // Per-process account: concurrent probes must not delete each other's entry.
        let account = format!("probe-{}", std::process::id());
        let marker: Vec<u8> = format!("plat-{account}").into_bytes();
        self.run(move |store| {
            let entry =
                Entry::new_in_store(&store, PROBE_SERVICE, &account).map_err(keyring_error)?;
            entry.set_secret(&marker).map_err(keyring_error)?;
            let read_back = entry.get_secret().map_err(keyring_error)?;
            let deleted = entry.delete_credential().map_err(keyring_error);
            if read_back != marker {
                return Err(AuthError::KeyringUnavailable {
                    reason: "a value written to the keyring read back differently".to_owned(),
                });
            }
            deleted
        })
        .await
    }

    pub async fn load(&self, context: &str) -> Result<StoredTokens, AuthError> {
        let context = context.to_owned();
        self.run(move |store| {
            Ok(StoredTokens {
                refresh_token: read_entry(&store, KEYRING_SERVICE, &context)?,
                access_token: read_entry(&store, ACCESS_TOKEN_SERVICE, &context)?,
            })
        })
        .await
    }

    pub async fn save(&self, context: &str, tokens: &StoredTokens) -> Result<(), AuthError> {
        let context = context.to_owned();
        let tokens = tokens.clone();
        self.run(move |store| {
            match &tokens.refresh_token {
                Some(token) => {
                    if token.len() > MAX_KEYRING_SECRET_BYTES {
                        return Err(AuthError::KeyringRejected {
                            reason: format!(
                                "the refresh token is {} bytes, more than the {MAX_KEYRING_SECRET_BYTES} a keyring entry can portably hold",
                                token.len()
                            ),
                        });
                    }
                    write_entry(&store, KEYRING_SERVICE, &context, token)?;
                }
                None => {
                    delete_entry(&store, KEYRING_SERVICE, &context)?;
                }
            }
            match &tokens.access_token {
                // A cache miss only costs one refresh, so an oversized access token is not kept.
                Some(token) if token.len() <= MAX_KEYRING_SECRET_BYTES => {
                    match write_entry(&store, ACCESS_TOKEN_SERVICE, &context, token) {
                        Err(AuthError::KeyringRejected { reason }) => {
                            tracing::debug!(%reason, "access token not cached in the keyring");
                            delete_entry(&store, ACCESS_TOKEN_SERVICE, &context)?;
                        }
                        other => other?,
                    }
                }
                _ => {
                    delete_entry(&store, ACCESS_TOKEN_SERVICE, &context)?;
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn delete(&self, context: &str) -> Result<bool, AuthError> {
        let context = context.to_owned();
        self.run(move |store| {
            let refresh = delete_entry(&store, KEYRING_SERVICE, &context)?;
            let access = delete_entry(&store, ACCESS_TOKEN_SERVICE, &context)?;
            Ok(refresh || access)
        })
        .await
    }

    /// Runs keyring work on a detached thread and waits at most `timeout` for it. A detached
    /// std thread (not `spawn_blocking`) is used because a tokio runtime waits for its blocking
    /// tasks on shutdown, so a hung D-Bus call would still hang plat at exit.
    async fn run<T, F>(&self, job: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<CredentialStore>) -> Result<T, AuthError> + Send + 'static,
    {
        let backend = Arc::clone(&self.backend);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("plat-keyring".to_owned())
            .spawn(move || {
                let result = connected_store(&backend).and_then(job);
                let _ = sender.send(result);
            })
            .map_err(|err| AuthError::KeyringUnavailable {
                reason: format!("cannot start the keyring thread: {err}"),
            })?;
        match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuthError::KeyringUnavailable {
                reason: "the keyring call panicked".to_owned(),
            }),
            Err(_) => Err(AuthError::KeyringTimeout {
                timeout: self.timeout,
            }),
        }
    }
}

fn connected_store(
    backend: &Mutex<Option<Arc<CredentialStore>>>,
) -> Result<Arc<CredentialStore>, AuthError> {
    if let Some(store) = backend.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(Arc::clone(store));
    }
    // Connect outside the lock: a connect that hangs must not block later attempts.
    let store = platform_store()?;
    *backend.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&store));
    Ok(store)
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<CredentialStore>, AuthError> {
    let store = dbus_secret_service_keyring_store::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Arc<CredentialStore>, AuthError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Arc<CredentialStore>, AuthError> {
    let store = windows_native_keyring_store::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<Arc<CredentialStore>, AuthError> {
    Err(AuthError::KeyringUnavailable {
        reason: "plat has no keyring support on this operating system".to_owned(),
    })
}

fn read_entry(
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
) -> Result<Option<Secret>, AuthError> {
    let entry = Entry::new_in_store(store, service, account).map_err(keyring_error)?;
    match entry.get_secret() {
        Ok(bytes) => String::from_utf8(bytes)
            .map(|text| Some(Secret::new(text)))
            .map_err(|_| AuthError::KeyringRejected {
                reason: format!("the keyring entry {service}/{account} is not UTF-8 text"),
            }),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(err) => Err(keyring_error(err)),
    }
}

fn write_entry(
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
    token: &Secret,
) -> Result<(), AuthError> {
    let entry = Entry::new_in_store(store, service, account).map_err(keyring_error)?;
    entry
        .set_secret(token.expose().as_bytes())
        .map_err(keyring_error)
}

fn delete_entry(
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
) -> Result<bool, AuthError> {
    let entry = Entry::new_in_store(store, service, account).map_err(keyring_error)?;
    match entry.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring_core::Error::NoEntry) => Ok(false),
        Err(err) => Err(keyring_error(err)),
    }
}

/// Variants carrying secret bytes (`BadEncoding`, `BadDataFormat`) are described without them.
fn keyring_error(err: keyring_core::Error) -> AuthError {
    use keyring_core::Error as K;
    match err {
        K::PlatformFailure(cause) => AuthError::KeyringUnavailable {
            reason: super::oidc::describe_error_chain(cause.as_ref()),
        },
        K::NoStorageAccess(cause) => AuthError::KeyringUnavailable {
            reason: format!(
                "access denied or keyring locked: {}",
                super::oidc::describe_error_chain(cause.as_ref())
            ),
        },
        K::NoDefaultStore => AuthError::KeyringUnavailable {
            reason: "no credential store is configured".to_owned(),
        },
        K::NotSupportedByStore(what) => AuthError::KeyringUnavailable { reason: what },
        K::BadStoreFormat(what) => AuthError::KeyringUnavailable { reason: what },
        K::TooLong(attribute, limit) => AuthError::KeyringRejected {
            reason: format!("{attribute} is longer than the keyring's limit of {limit}"),
        },
        K::Invalid(parameter, problem) => AuthError::KeyringRejected {
            reason: format!("invalid {parameter}: {problem}"),
        },
        K::Ambiguous(entries) => AuthError::KeyringRejected {
            reason: format!(
                "{} keyring entries match; remove the duplicates in your keyring manager",
                entries.len()
            ),
        },
        K::NoEntry => AuthError::KeyringRejected {
            reason: "the keyring entry vanished".to_owned(),
        },
        K::BadEncoding(_) | K::BadDataFormat(..) => AuthError::KeyringRejected {
            reason: "a keyring entry holds data plat cannot read".to_owned(),
        },
        _ => AuthError::KeyringUnavailable {
            reason: "unknown keyring failure".to_owned(),
        },
    }
}

/// `--insecure-storage`: one JSON file per context under `<data dir>/auth/`, mode 0600, replaced
/// atomically (written to a 0600 temp file in the same directory, then renamed over).
#[derive(Debug, Clone)]
pub struct InsecureFileStore {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct TokenFile {
    version: u32,
    refresh_token: Option<String>,
    access_token: Option<String>,
}

impl InsecureFileStore {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: auth_dir(&data_dir.into()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn token_path(&self, context: &str) -> PathBuf {
        self.dir
            .join(format!("{}.tokens.json", file_stem_for_context(context)))
    }

    pub fn probe(&self) -> Result<(), AuthError> {
        create_private_dir(&self.dir)?;
        let probe =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|source| AuthError::TokenFile {
                path: self.dir.clone(),
                source,
            })?;
        probe.close().map_err(|source| AuthError::TokenFile {
            path: self.dir.clone(),
            source,
        })
    }

    pub fn load(&self, context: &str) -> Result<StoredTokens, AuthError> {
        let path = self.token_path(context);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StoredTokens::default());
            }
            Err(source) => return Err(AuthError::TokenFile { path, source }),
        };
        warn_if_readable_by_others(&path);
        let file: TokenFile =
            serde_json::from_str(&text).map_err(|err| AuthError::TokenFileCorrupt {
                path: path.clone(),
                reason: format!("{:?} error at line {}", err.classify(), err.line()),
            })?;
        Ok(StoredTokens {
            refresh_token: file.refresh_token.map(Secret::new),
            access_token: file.access_token.map(Secret::new),
        })
    }

    pub fn save(&self, context: &str, tokens: &StoredTokens) -> Result<(), AuthError> {
        if tokens.is_empty() {
            return self.delete(context).map(|_| ());
        }
        create_private_dir(&self.dir)?;
        let path = self.token_path(context);
        let file_error = |source| AuthError::TokenFile {
            path: path.clone(),
            source,
        };
        let body = serde_json::to_vec_pretty(&TokenFile {
            version: 1,
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
            access_token: tokens
                .access_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
        })
        .map_err(|err| file_error(std::io::Error::other(err)))?;
        // tempfile creates the file with mode 0600 on Unix, so the token is never world-readable,
        // not even between create and rename.
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(file_error)?;
        temp.write_all(&body).map_err(file_error)?;
        temp.as_file().sync_all().map_err(file_error)?;
        temp.persist(&path).map_err(|err| file_error(err.error))?;
        Ok(())
    }

    pub fn delete(&self, context: &str) -> Result<bool, AuthError> {
        let path = self.token_path(context);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(AuthError::TokenFile { path, source }),
        }
    }
}

pub(super) fn auth_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("auth")
}

/// Context names become file names: keep `[A-Za-z0-9_-]`, percent-encode every other byte
/// (dots included, so no name can be `..` or hidden).
pub(super) fn file_stem_for_context(context: &str) -> String {
    let mut stem = String::with_capacity(context.len());
    for byte in context.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    if stem.is_empty() {
        stem.push_str("%00");
    }
    stem
}

pub(super) fn create_private_dir(dir: &Path) -> Result<(), AuthError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| AuthError::TokenFile {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", metadata.permissions().mode() & 0o777),
            "token file is readable by other users"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
