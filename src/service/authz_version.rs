//! The platform's authorization version (bumped in the same transaction as every write to
//! accounts, tenants, users, groups and their links), as requests see it.
//!
//! A server checks the version on every request so that cached callers and listings are used
//! only while nothing they depend on has changed, on any replica. Under load most requests
//! would make that same read at the same moment, so reads are shared:
//! - a request waits for a read sent after it arrived, which it shares with every request that
//!   arrived before that read was sent; so it sees every write committed before it arrived,
//! - except that it may take the latest reading at once when that reading was sent at most
//!   `REUSE_WINDOW` before the request arrived and no transaction of this process has committed
//!   since. A write through this replica is therefore seen by every later request at once, and
//!   a write through another replica by every request that arrives `REUSE_WINDOW` after it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{Notify, watch};

use super::{Error, Result};
use crate::store::{self, Store};

/// How old a reading may be when a request takes it without waiting for a new one. Readings
/// follow one another back to back under load, so a busy server almost never waits; an idle one
/// reads afresh for each request.
const REUSE_WINDOW: Duration = Duration::from_millis(1);

/// One reader task per service sends the reads; requests share them.
#[derive(Default)]
pub(super) struct SharedVersionRead {
    /// Reads sent so far: a read numbered above what a request saw on arrival began after it.
    sent: Arc<AtomicU64>,
    wanted: Arc<Notify>,
    /// The reader's readings, once the first request has started it (a service is made
    /// outside any runtime).
    readings: OnceLock<watch::Receiver<Reading>>,
}

/// What one read found, and when it was sent.
#[derive(Clone)]
struct Reading {
    number: u64,
    sent_at: Instant,
    /// This process's committed transactions when the read was sent (`Store::commits`).
    commits_before: u64,
    version: Result<String>,
}

impl SharedVersionRead {
    /// The version as of at most `REUSE_WINDOW` before this call, and after every commit of
    /// this process that finished before it.
    pub(super) async fn read(&self, store: &Store) -> Result<String> {
        let readings = self.readings.get_or_init(|| self.start_reader(store));
        let arrived = Instant::now();
        let commits = store.commits();
        let first_read_after_arrival = self.sent.load(Ordering::Acquire) + 1;
        // Asked either way, so that readings keep coming while requests do.
        self.wanted.notify_one();
        {
            let latest = readings.borrow();
            if let Ok(version) = &latest.version
                && latest.number > 0
                && latest.commits_before == commits
                && arrived.saturating_duration_since(latest.sent_at) <= REUSE_WINDOW
            {
                return Ok(version.clone());
            }
        }
        let mut readings = readings.clone();
        let reading = readings
            .wait_for(|reading| reading.number >= first_read_after_arrival)
            .await
            .map_err(|_| Error::internal("the authorization version reader stopped"))?;
        reading.version.clone()
    }

    fn start_reader(&self, store: &Store) -> watch::Receiver<Reading> {
        let none_yet = Reading {
            number: 0,
            sent_at: Instant::now(),
            commits_before: 0,
            version: Err(Error::internal("no authorization version read yet")),
        };
        let (sender, readings) = watch::channel(none_yet);
        let (store, sent, wanted) = (store.clone(), self.sent.clone(), self.wanted.clone());
        tokio::spawn(async move {
            // While requests keep asking, one connection is kept for the reads so that a read
            // does not queue behind the requests' own queries for a pooled one; when they stop,
            // it goes back to the pool (the embedded platform's pool has one connection).
            let mut connection = None;
            let mut asked = false;
            loop {
                if !asked {
                    connection = None;
                    tokio::select! {
                        () = wanted.notified() => {}
                        // The service is gone: nobody will ask again.
                        () = sender.closed() => return,
                    }
                }
                let commits_before = store.commits();
                let sent_at = Instant::now();
                let number = sent.fetch_add(1, Ordering::AcqRel) + 1;
                let version = read_version(&store, &mut connection).await;
                if version.is_err() {
                    connection = None;
                }
                let reading = Reading {
                    number,
                    sent_at,
                    commits_before,
                    version,
                };
                if sender.send(reading).is_err() {
                    return;
                }
                asked = wanted.notified().now_or_never().is_some();
            }
        });
        readings
    }
}

async fn read_version(
    store: &Store,
    connection: &mut Option<sqlx::pool::PoolConnection<sqlx::Any>>,
) -> Result<String> {
    let conn = match connection {
        Some(conn) => conn,
        None => connection.insert(store.acquire().await?),
    };
    Ok(store::authz_version(conn).await?)
}

/// Values computed under one authorization version, used only while it is still current.
pub(super) struct VersionedCache<K, V> {
    entries: std::sync::Mutex<HashMap<K, (String, V)>>,
    /// Past this many entries the cache starts over rather than tracking which to evict.
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> VersionedCache<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            entries: std::sync::Mutex::default(),
            capacity,
        }
    }

    pub(super) fn get(&self, key: &K, version: &str) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at == version)
            .map(|(_, value)| value.clone())
    }

    pub(super) fn put(&self, key: K, version: String, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, (version, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_store(dir: &std::path::Path) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
        Store::open(&url, 4).await.unwrap()
    }

    async fn write_version(store: &Store, version: &str) {
        let mut conn = store.acquire().await.unwrap();
        let mut tx = store.begin(&mut conn).await.unwrap();
        store::set_meta(&mut tx, "authz_version", version)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn requests_at_once(shared: &Arc<SharedVersionRead>, store: &Store) -> Vec<String> {
        let requests: Vec<_> = (0..16)
            .map(|_| {
                let (shared, store) = (shared.clone(), store.clone());
                tokio::spawn(async move { shared.read(&store).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for request in requests {
            seen.push(request.await.unwrap());
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_through_this_process_is_seen_by_every_later_request_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let shared = Arc::new(SharedVersionRead::default());
        for round in 0..20 {
            let version = format!("v{round}");
            write_version(&store, &version).await;
            let seen = requests_at_once(&shared, &store).await;
            assert!(seen.iter().all(|v| *v == version), "{version}: {seen:?}");
        }
        let sent = shared.sent.load(Ordering::SeqCst);
        assert!(sent < 20 * 16, "{sent} reads for 320 requests");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_through_another_replica_is_seen_once_the_reuse_window_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let here = sqlite_store(dir.path()).await;
        let elsewhere = sqlite_store(dir.path()).await;
        let shared = Arc::new(SharedVersionRead::default());
        for round in 0..10 {
            let version = format!("v{round}");
            write_version(&elsewhere, &version).await;
            tokio::time::sleep(REUSE_WINDOW * 2).await;
            let seen = requests_at_once(&shared, &here).await;
            assert!(seen.iter().all(|v| *v == version), "{version}: {seen:?}");
        }
    }
}
