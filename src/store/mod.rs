//! Persistence: one SQL dialect that runs unchanged on SQLite (embedded default, WAL) and
//! PostgreSQL (team server), through sqlx's `Any` driver. Functions take a connection so the
//! service can run several of them inside one transaction.

mod accounts;
mod audit;
mod automations;
mod env_approvals;
mod envs;
mod error;
mod groups;
mod inventories;
mod spend;
mod tenants;
mod trust;
mod users;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Executor};

use crate::api::Timestamp;

pub use accounts::*;
pub use audit::*;
pub use automations::*;
pub use env_approvals::*;
pub use envs::*;
pub use error::StoreError;
pub use groups::*;
pub use inventories::*;
pub use spend::*;
pub use tenants::*;
pub use trust::*;
pub use users::*;

pub type Conn = AnyConnection;

/// A write transaction that counts its commit, so that what this process read before the
/// commit is known to be older than it (`Store::commits`).
pub struct Tx<'c> {
    inner: sqlx::Transaction<'c, sqlx::Any>,
    commits: Arc<AtomicU64>,
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        self.commits.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    commits: Arc<AtomicU64>,
}

/// One step of the schema. Most steps are portable SQL; a step may instead give each backend
/// its own SQL. A database never changes backend, so each keeps its own checksums.
struct SchemaStep {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const fn portable(version: i64, description: &'static str, sql: &'static str) -> SchemaStep {
    SchemaStep {
        version,
        description,
        sqlite: sql,
        postgres: sql,
    }
}

/// The schema, embedded in the binary. Append only: a released migration never changes.
const SCHEMA: [SchemaStep; 15] = [
    portable(
        1,
        "accounts",
        include_str!("../../migrations/0001_accounts.sql"),
    ),
    portable(2, "envs", include_str!("../../migrations/0002_envs.sql")),
    portable(
        3,
        "automations",
        include_str!("../../migrations/0003_automations.sql"),
    ),
    portable(
        4,
        "automation_triggers",
        include_str!("../../migrations/0004_automation_triggers.sql"),
    ),
    portable(
        5,
        "inventories",
        include_str!("../../migrations/0005_inventories.sql"),
    ),
    portable(
        6,
        "env_logs",
        include_str!("../../migrations/0006_env_logs.sql"),
    ),
    portable(
        7,
        "authz_version",
        include_str!("../../migrations/0007_authz_version.sql"),
    ),
    portable(
        8,
        "run_announcements",
        include_str!("../../migrations/0008_run_announcements.sql"),
    ),
    SchemaStep {
        version: 9,
        description: "account_listing",
        sqlite: include_str!("../../migrations/0009_account_listing.sqlite.sql"),
        postgres: include_str!("../../migrations/0009_account_listing.postgres.sql"),
    },
    portable(
        10,
        "group_idp_links",
        include_str!("../../migrations/0010_group_idp_links.sql"),
    ),
    portable(
        11,
        "env_approvals",
        include_str!("../../migrations/0011_env_approvals.sql"),
    ),
    portable(12, "spend", include_str!("../../migrations/0012_spend.sql")),
    SchemaStep {
        version: 13,
        description: "audit",
        sqlite: include_str!("../../migrations/0013_audit.sqlite.sql"),
        postgres: include_str!("../../migrations/0013_audit.postgres.sql"),
    },
    portable(
        14,
        "local_runners",
        include_str!("../../migrations/0014_local_runners.sql"),
    ),
    portable(
        15,
        "trust_rules",
        include_str!("../../migrations/0015_trust_rules.sql"),
    ),
];

fn migrator(backend: Backend) -> Migrator {
    let migrations = SCHEMA
        .iter()
        .map(|step| {
            let sql = match backend {
                Backend::Sqlite => step.sqlite,
                Backend::Postgres => step.postgres,
            };
            Migration::new(
                step.version,
                Cow::Borrowed(step.description),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// How a pool waits. Both bounds are short so that when the database is gone a request fails
/// fast (503) instead of hanging, and a caller can tell an outage from a slow answer.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection (from the pool, or a new one) before failing.
    pub acquire_timeout: Duration,
    /// How long one statement may run (PostgreSQL `statement_timeout`; SQLite `busy_timeout`,
    /// the wait for the write lock).
    pub statement_timeout: Duration,
}

impl PoolSettings {
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
        }
    }
}

impl Store {
    /// Opens (and for SQLite creates) the database and brings its schema up to date.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::open_with(url, PoolSettings::new(max_connections)).await
    }

    pub async fn open_with(url: &str, settings: PoolSettings) -> Result<Self, StoreError> {
        let store = Self::connect_with(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating: for `plat server migrate` and readiness checks.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolSettings::new(max_connections)).await
    }

    pub async fn connect_with(url: &str, settings: PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(format!(
                "unsupported database URL '{}'",
                redact_url(url)
            )));
        };
        let url = match backend {
            Backend::Sqlite => {
                check_sqlite_header(url)?;
                let url = sqlite_creating(url);
                keep_sqlite_file_private(&url)?;
                url
            }
            Backend::Postgres => Cow::Borrowed(url),
        };
        let url = url.as_ref();
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|err| StoreError::BadUrl(format!("invalid database URL: {err}")))?;
        let statement_ms = settings.statement_timeout.as_millis().max(1);
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A SQLite connection is a file in this process: it cannot go stale as a network
            // connection can, so it is not pinged before every use.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let setup = match backend {
                        // WAL + NORMAL survives kill -9 without losing committed transactions,
                        // and lets readers run beside the one writer. busy_timeout first:
                        // switching to WAL needs a lock another process may hold right now.
                        Backend::Sqlite => format!(
                            "PRAGMA busy_timeout = {statement_ms}; PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                        ),
                        Backend::Postgres => format!("SET statement_timeout = {statement_ms}"),
                    };
                    conn.execute(sqlx::AssertSqlSafe(setup)).await?;
                    Ok(())
                })
            })
            // A connection whose transaction could not be closed (its COMMIT and ROLLBACK both
            // failed, as after an I/O error or a full disk) must never serve the next request:
            // it would refuse every `BEGIN` from then on. It is dropped, and the pool opens a
            // fresh one.
            .after_release(move |conn, _meta| {
                Box::pin(async move {
                    use sqlx::Connection;
                    if backend == Backend::Sqlite {
                        // A dropped transaction's ROLLBACK is queued on the connection's worker;
                        // a ping waits for it to be done, so the depth read next is current.
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options)
            .await
            .map_err(|err| open_error(url, err))?;
        Ok(Self {
            pool,
            backend,
            commits: Arc::default(),
        })
    }

    /// Brings the schema up to date, once, however many processes start at the same moment.
    /// PostgreSQL: sqlx's migrator holds an advisory lock for the whole run. SQLite has no such
    /// lock, so the whole run happens inside one exclusive transaction (each step a savepoint in
    /// it): a second process waits on `busy_timeout`, then finds nothing left to do.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = migrator(self.backend);
        if self.schema_is_current(&migrator).await {
            return Ok(());
        }
        let outcome = match self.backend {
            Backend::Postgres => migrator.run(&self.pool).await,
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut conn = self.pool.acquire().await?;
                let mut tx = conn.begin_with("BEGIN EXCLUSIVE").await?;
                match migrator.run(&mut *tx).await {
                    Ok(()) => tx.commit().await.map_err(MigrateError::from),
                    Err(err) => Err(err),
                }
            }
        };
        outcome.map_err(|err| match err {
            MigrateError::VersionMissing(version) => StoreError::broken_with_hint(
                format!(
                    "the database schema (version {version}) is newer than this plat understands"
                ),
                "upgrade plat, or point it at another database",
            ),
            MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => {
                open_error("", inner)
            }
            other => StoreError::broken(format!("cannot migrate the database: {other}")),
        })
    }

    /// Every step applied already (the common case): no lock is taken. Any doubt (no table yet,
    /// an unreadable one) is left to the locked run to settle.
    async fn schema_is_current(&self, migrator: &Migrator) -> bool {
        let Ok(mut conn) = self.pool.acquire().await else {
            return false;
        };
        let exists = sqlx::query("SELECT version FROM _sqlx_migrations WHERE version = $1")
            .bind(SCHEMA.last().map_or(0, |step| step.version))
            .fetch_optional(&mut *conn)
            .await;
        if !matches!(exists, Ok(Some(_))) {
            return false;
        }
        let Ok(applied) = conn.list_applied_migrations("_sqlx_migrations").await else {
            return false;
        };
        // A newer schema than this binary knows goes to the full run, which says so.
        applied.len() == migrator.iter().count()
            && migrator.iter().all(|step| {
                applied
                    .iter()
                    .any(|done| done.version == step.version && done.checksum == step.checksum)
            })
    }

    /// The highest schema version applied, for `plat server migrate` to report.
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let applied = conn
            .list_applied_migrations("_sqlx_migrations")
            .await
            .map_err(|err| StoreError::broken(err.to_string()))?;
        Ok(applied.iter().map(|m| m.version).max())
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`IMMEDIATE`), so two
    /// writers queue on `busy_timeout` instead of failing when a read would have to upgrade.
    pub async fn begin<'c>(&self, conn: &'c mut Conn) -> Result<Tx<'c>, StoreError> {
        use sqlx::Connection;
        let inner = match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        };
        Ok(Tx {
            inner,
            commits: self.commits.clone(),
        })
    }

    /// Transactions this process has committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Readiness: commits one tiny write, so that a database that answers reads but cannot take
    /// writes (a full disk, a read-only replica, a stuck lock) reads as not ready. Bounded by
    /// `within`, so an outage is reported in that time rather than after the pool's own waits.
    pub async fn probe_write(&self, within: Duration) -> Result<(), StoreError> {
        let now = jiff::Timestamp::now().to_string();
        let write = async {
            let mut conn = self.acquire().await?;
            let mut tx = self.begin(&mut conn).await?;
            sqlx::query(
                "INSERT INTO platform_meta (key, value) VALUES ('ready_probe', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        };
        match tokio::time::timeout(within, write).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database took more than {} ms to take a write",
                within.as_millis()
            ))),
        }
    }
}

/// The database holds every account's data: its file (and so the `-wal`/`-shm` files SQLite
/// creates beside it with the same mode) is the owner's only. An older install is tightened.
fn keep_sqlite_file_private(url: &str) -> Result<(), StoreError> {
    let path = sqlite_path(url);
    let creates = url.contains("mode=rwc");
    if path.is_empty() || path.contains(":memory:") || !(creates || Path::new(path).exists()) {
        return Ok(());
    }
    crate::private_fs::private_sqlite_file(Path::new(path)).map_err(|err| {
        StoreError::broken(format!(
            "cannot keep the database file {path} private: {err}"
        ))
    })
}

fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// `sqlite://PATH` as `--help` documents it names a database to use, new or not; SQLite's own
/// default (`mode=rw`) refuses a file that does not exist yet. An explicit `mode=` is kept.
fn sqlite_creating(url: &str) -> Cow<'_, str> {
    if url.contains("mode=") {
        return Cow::Borrowed(url);
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Cow::Owned(format!("{url}{separator}mode=rwc"))
}

/// SQLite only notices a foreign file on first use, deep inside the pool's retry loop; a look at
/// the 16-byte header gives the user a straight answer instead of a timeout.
fn check_sqlite_header(url: &str) -> Result<(), StoreError> {
    use std::io::Read;
    let path = sqlite_path(url);
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut file| file.read(&mut header));
    match read {
        Ok(n) if n > 0 && (n < 16 || &header != b"SQLite format 3\0") => Err(open_error(
            url,
            sqlx::Error::Protocol("file is not a database".into()),
        )),
        _ => Ok(()),
    }
}

fn open_error(url: &str, err: sqlx::Error) -> StoreError {
    let text = err.to_string();
    if text.contains("file is not a database") || text.contains("malformed") {
        return StoreError::broken_with_hint(
            "the database file is corrupt (not a SQLite database)",
            "move it away to start afresh, or restore it from a backup",
        );
    }
    let place = if url.is_empty() {
        String::new()
    } else {
        format!(" at {}", redact_url(url))
    };
    StoreError::broken(format!("cannot open the database{place}: {text}"))
}

/// Hides the password of a database URL before it is shown anywhere: the one in the user info
/// (`postgres://user:PW@host`) and any `password`-like query parameter (`?password=PW`,
/// `&sslpassword=PW`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &base[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    shown
}

/// Whether a database URL carries a password (which belongs in PGPASSWORD, ~/.pgpass or the
/// environment, never in a config file).
pub fn url_has_password(url: &str) -> bool {
    redact_url(url) != url
}

/// A subtree's path prefix. Every account path ends in `/`, so a prefix match can never reach a
/// sibling whose slug merely starts alike; an empty or unterminated prefix would match far more
/// than one subtree, so it is refused before any query sees it.
pub(crate) fn subtree_prefix(path: &str) -> Result<&str, StoreError> {
    if path.starts_with('/') && path.ends_with('/') {
        Ok(path)
    } else {
        Err(StoreError::broken(format!(
            "refusing a subtree lookup under '{path}': an account path starts and ends with '/'"
        )))
    }
}

/// A JSON column as stored. A value that does not parse is an error naming its row: reading it
/// as empty would show, and then save, a record that silently lost its data.
pub(crate) fn stored_json<T: serde::de::DeserializeOwned>(
    table: &str,
    id: &str,
    column: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|err| {
        StoreError::broken_with_hint(
            format!("{table} row {id}: column {column} holds corrupt JSON ({err})"),
            "the database was changed outside plat; restore that row from a backup",
        )
    })
}

/// Lists are stored as JSON text so the same column type works on both backends.
pub(crate) fn to_json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A JSON column of a row being read; one that does not parse fails the read, naming the row.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    table: &str,
    column: &str,
) -> Result<T, sqlx::Error> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|err| {
        let id: String = row.try_get("id").unwrap_or_default();
        sqlx::Error::ColumnDecode {
            index: format!("{table}.{column} of row {id}"),
            source: Box::new(err),
        }
    })
}

/// Serialises the first-start bootstrap across replicas until the transaction ends. SQLite's
/// `BEGIN IMMEDIATE` already does; PostgreSQL takes a transaction-scoped advisory lock, so the
/// second replica's "is there a master account yet?" sees the first one's commit.
pub async fn lock_bootstrap(conn: &mut Conn) -> Result<(), StoreError> {
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('plat.bootstrap'))")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every write that can change who may do what (users, links, groups, accounts, tenants) bumps
/// this counter in the same transaction, so an actor resolved earlier, by this replica or
/// another, is known to be stale by one cheap read (see `service::actor`).
pub async fn bump_authz_version(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE platform_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) \
         WHERE key = 'authz_version'",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn authz_version(conn: &mut Conn) -> Result<String, StoreError> {
    Ok(get_meta(conn, "authz_version").await?.unwrap_or_default())
}

pub fn new_id() -> String {
    ulid::Ulid::generate().to_string().to_lowercase()
}

/// A column stored in the spelling of a closed vocabulary (a status): a value plat did not
/// write is an error naming the row, never a default.
pub(crate) fn spelled<T: std::str::FromStr<Err = String>>(
    row: &sqlx::any::AnyRow,
    column: &str,
    table: &str,
) -> Result<T, sqlx::Error> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    parsed(row, column, table, &text)
}

/// A time column (stored as `Timestamp`'s text): a value plat did not write is an error naming
/// the row, never a default or a wrong order.
pub(crate) fn timestamp(
    row: &sqlx::any::AnyRow,
    column: &str,
    table: &str,
) -> Result<Timestamp, sqlx::Error> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    parsed(row, column, table, &text)
}

/// A time column that may be empty (`NULL`): something that has not happened yet.
pub(crate) fn optional_timestamp(
    row: &sqlx::any::AnyRow,
    column: &str,
    table: &str,
) -> Result<Option<Timestamp>, sqlx::Error> {
    use sqlx::Row;
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| parsed(row, column, table, &text))
        .transpose()
}

/// `text`, read from `column` of `row`, parsed; when it does not parse, the error names the
/// table, the column and the row's key (`id`, or the key of a table keyed otherwise).
fn parsed<T>(
    row: &sqlx::any::AnyRow,
    column: &str,
    table: &str,
    text: &str,
) -> Result<T, sqlx::Error>
where
    T: std::str::FromStr,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use sqlx::Row;
    text.parse().map_err(|err: T::Err| {
        let key = ["id", "env_id", "scope"]
            .iter()
            .find_map(|key| row.try_get::<String, _>(*key).ok())
            .unwrap_or_default();
        sqlx::Error::ColumnDecode {
            index: format!("{table}.{column} of row {key}"),
            source: err.into(),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            super::redact_url("postgres://plat:s3cret@db:5432/plat"),
            "postgres://plat:***@db:5432/plat"
        );
        assert_eq!(
            super::redact_url("sqlite:///tmp/x.db"),
            "sqlite:///tmp/x.db"
        );
        assert_eq!(
            super::redact_url("postgres://db/plat?user=plat&password=s3cret&sslmode=require"),
            "postgres://db/plat?user=plat&password=***&sslmode=require"
        );
        assert_eq!(
            super::redact_url("postgres://u:pw@db/plat?sslpassword=k"),
            "postgres://u:***@db/plat?sslpassword=***"
        );
        assert!(super::url_has_password("postgres://u:pw@db/plat"));
        assert!(!super::url_has_password(
            "postgres://u@db/plat?sslmode=require"
        ));
    }
}
