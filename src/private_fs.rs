//! What plat keeps on disk for one user (the embedded database, Terraform state with its
//! sensitive outputs, run logs) is readable by that user only: directories 0700, files 0600.
//! Installs made before this rule are tightened the next time plat uses them.

use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

pub(crate) const DIR_MODE: u32 = 0o700;
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700, and tightens it if it already existed.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Opens `path` for appending, creating it as 0600 (and tightening an older one).
pub(crate) fn append_private(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    set_mode(path, FILE_MODE)?;
    Ok(file)
}

/// Creates or truncates `path` as 0600.
pub(crate) fn create_private(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    set_mode(path, FILE_MODE)?;
    Ok(file)
}

/// Writes `contents` to `path`, which is left 0600.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(contents)
}

/// Tightens each of `files` that exists to 0600; missing ones are skipped.
pub(crate) fn tighten_files<'a>(files: impl IntoIterator<Item = &'a Path>) -> io::Result<()> {
    for file in files {
        match set_mode(file, FILE_MODE) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// A SQLite database file and its companions: SQLite gives the `-wal` and `-shm` files the
/// mode of the database file, so creating that one 0600 first is enough for new databases.
pub(crate) fn private_sqlite_file(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        private_dir(parent)?;
    }
    append_private(path)?;
    let companion = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    let (wal, shm) = (companion("-wal"), companion("-shm"));
    tighten_files([wal.as_path(), shm.as_path()])
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_end_up_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "an existing dir is tightened");
        let db = dir.join("plat.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = dir.join("plat.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_sqlite_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        let log = dir.join("run.log");
        append_private(&log).unwrap();
        write_private(&dir.join("state"), b"{}").unwrap();
        assert_eq!((mode(&log), mode(&dir.join("state"))), (0o600, 0o600));
    }
}
