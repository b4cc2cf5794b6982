//! What `terraform init` leaves in a work dir (`.terraform/` and the dependency lock file),
//! kept per template version, binary and backend, so that the next env of the same template
//! starts at `apply`. `init` costs a Terraform start at the least, and seconds with providers
//! to verify and link; it depends on nothing of one env once the backend settings are the same
//! for all (the embedded platform's state is reached through a link, see
//! [`Backend::Linked`](super::runner::Backend::Linked)).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const DATA_DIR: &str = ".terraform";
const LOCK_FILE: &str = ".terraform.lock.hcl";

/// A key that changes with everything `init`'s result depends on.
#[derive(Default)]
pub(crate) struct InitKey(Sha256);

impl InitKey {
    pub fn add(&mut self, part: &[u8]) -> &mut Self {
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Copies the cached result of `init` under `key` into `work_dir`; `false` when there is none
/// (or it cannot be read whole: `init` then runs as usual).
pub(crate) fn restore(cache: &Path, key: &str, work_dir: &Path) -> bool {
    let entry = cache.join(key);
    if !entry.join(DATA_DIR).is_dir() {
        return false;
    }
    let data_dir = work_dir.join(DATA_DIR);
    // What an earlier init left (another template version's providers) must not linger.
    if data_dir.exists() && std::fs::remove_dir_all(&data_dir).is_err() {
        return false;
    }
    if copy_init_result(&entry, work_dir).is_err() {
        // Half a `.terraform` would fail later, and less clearly than a fresh `init`.
        let _ = std::fs::remove_dir_all(&data_dir);
        return false;
    }
    true
}

/// Keeps what `init` left in `work_dir` under `key`. Best effort: a cache that cannot be written
/// only costs the next env an `init`. Written aside and renamed into place, so that a
/// concurrent `restore` never sees half of it.
pub(crate) fn save(cache: &Path, key: &str, work_dir: &Path) {
    let entry = cache.join(key);
    if entry.exists() {
        return;
    }
    let aside = cache.join(format!(".{key}.{}", std::process::id()));
    let written = crate::private_fs::private_dir(&aside)
        .and_then(|()| copy_init_result(work_dir, &aside))
        .and_then(|()| std::fs::rename(&aside, &entry));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&aside);
    }
}

/// What `init` leaves in a directory (`.terraform/`, and the lock file when there is one),
/// copied from `from` to `to`: into the cache, and back out of it.
fn copy_init_result(from: &Path, to: &Path) -> std::io::Result<()> {
    copy_tree(&from.join(DATA_DIR), &to.join(DATA_DIR))?;
    let lock = from.join(LOCK_FILE);
    if lock.is_file() {
        std::fs::copy(&lock, to.join(LOCK_FILE))?;
    }
    Ok(())
}

/// Copies a directory tree; symbolic links (providers linked from the plugin cache) stay links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(std::io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let target: PathBuf = to.join(relative);
        let kind = entry.file_type();
        if kind.is_dir() {
            crate::private_fs::private_dir(&target)?;
        } else if kind.is_symlink() {
            link(&std::fs::read_link(entry.path())?, entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn link(points_to: &Path, _original: &Path, target: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(points_to, target)
}

/// Without symbolic links at hand, the file it points to is copied.
#[cfg(not(unix))]
fn link(_points_to: &Path, original: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::copy(original, target).map(|_| ())
}
