//! Which directories a cluster may touch, and one process at a time in each.
//!
//! `up` writes an ownership marker ([`MARKER_FILE`]) into the state directory it creates (or
//! into an empty one it adopts). Everything that signals, unmounts or deletes — `down`, and the
//! cleanup of a failed start — first requires that marker, so a state directory pointed at
//! `.` or `$HOME` by mistake is refused untouched. `up` and `down` also hold an exclusive
//! `flock` on the directory itself while they work, so concurrent callers on one state
//! directory take turns: the first starts the cluster, the others wait and then reuse it.

use std::fs::{self, File, TryLockError};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The ownership marker, inside the state directory.
pub(super) const MARKER_FILE: &str = "kube-e2e-state.json";

/// The marker's format version.
const MARKER_FORMAT: u32 = 1;

/// How often a waiting caller tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// What the marker holds: enough to tell who created the directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Marker {
    /// The marker's format version.
    pub format: u32,
    /// A random identifier of this state directory.
    pub owner: String,
    /// The user that created it.
    pub uid: u32,
    /// The process that created it.
    pub pid: u32,
    /// When (seconds since the epoch).
    pub created_unix: u64,
}

/// The exclusive lock on a state directory; released when dropped.
#[derive(Debug)]
pub(super) struct StateDirLock {
    _dir: File,
}

enum Attempt {
    Locked(StateDirLock),
    Busy,
    /// The directory was removed (or replaced) while we waited: look again.
    Moved,
}

/// The marker file of `dir`.
pub(super) fn marker_path(dir: &Path) -> PathBuf {
    dir.join(MARKER_FILE)
}

/// The marker of `dir`, if it has one.
///
/// # Errors
/// Fails if the marker exists but cannot be read or parsed.
pub(super) fn read_marker(dir: &Path) -> Result<Option<Marker>> {
    let path = marker_path(dir);
    let bytes = match super::state::read_regular(&path) {
        Ok(bytes) => bytes,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::io(&path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::State {
            path,
            message: format!("not a kube-e2e ownership marker: {e}"),
        })
}

/// Write a new marker into `dir` (atomically: a reader never sees half of it).
///
/// # Errors
/// Fails if the file cannot be written.
pub(super) fn write_marker(dir: &Path) -> Result<Marker> {
    let marker = Marker {
        format: MARKER_FORMAT,
        owner: random_id(),
        uid: nix::unistd::Uid::current().as_raw(),
        pid: std::process::id(),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    };
    let path = marker_path(dir);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(&marker).expect("the marker always serializes");
    fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    Ok(marker)
}

/// Fails unless `dir` carries the marker: the check before anything is signalled, unmounted
/// or deleted.
///
/// # Errors
/// [`Error::UnmarkedStateDir`] naming the marker looked for, or an error reading it.
pub(super) fn require_marker(dir: &Path) -> Result<Marker> {
    read_marker(dir)?.ok_or_else(|| Error::UnmarkedStateDir {
        dir: absolute(dir),
        marker: absolute(&marker_path(dir)),
    })
}

/// Whether `up` may use `dir`: it does not exist, is empty, or carries the marker. Reads only.
///
/// # Errors
/// [`Error::ForeignStateDir`] naming the marker looked for, or an error reading the directory.
pub(super) fn check_usable(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir)(e)),
        Ok(_) => {}
    }
    if read_marker(dir)?.is_some() || is_empty(dir)? {
        return Ok(());
    }
    Err(Error::ForeignStateDir {
        dir: absolute(dir),
        marker: absolute(&marker_path(dir)),
    })
}

/// Lock `dir` for `up`, creating it if needed, and make sure it is ours: a marked directory
/// is used, an empty one is adopted (the marker is written), any other is refused. Waits for
/// another process holding the lock — at most `timeout`.
///
/// # Errors
/// [`Error::ForeignStateDir`], [`Error::Timeout`] when the lock stays taken, or an I/O error.
pub(super) async fn lock_for_up(
    dir: &Path,
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<StateDirLock> {
    let deadline = Instant::now() + timeout;
    let mut told = false;
    loop {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        match try_lock(dir)? {
            Attempt::Locked(lock) => {
                if read_marker(dir)?.is_none() {
                    check_usable(dir)?;
                    write_marker(dir)?;
                }
                return Ok(lock);
            }
            Attempt::Moved => continue,
            Attempt::Busy => {}
        }
        if !told {
            progress(&format!(
                "waiting for another kube-e2e process to start the cluster in {}",
                dir.display()
            ));
            told = true;
        }
        if Instant::now() >= deadline {
            return Err(lock_timeout(dir, timeout));
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}

/// Lock `dir` for `down`: `None` when it does not exist (there is nothing to do). Waits for
/// another process holding the lock — at most `timeout`.
///
/// # Errors
/// [`Error::UnmarkedStateDir`] when `dir` lacks the marker (checked before locking, and again
/// after), [`Error::Timeout`] when the lock stays taken, or an I/O error.
pub(super) fn lock_for_down(dir: &Path, timeout: Duration) -> Result<Option<StateDirLock>> {
    let deadline = Instant::now() + timeout;
    let mut told = false;
    loop {
        match fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(dir)(e)),
            Ok(_) => {}
        }
        require_marker(dir)?;
        match try_lock(dir)? {
            Attempt::Locked(lock) => {
                require_marker(dir)?;
                return Ok(Some(lock));
            }
            Attempt::Moved => continue,
            Attempt::Busy => {}
        }
        if !told {
            tracing::info!(
                "waiting for another kube-e2e process to finish with the cluster in {}",
                dir.display()
            );
            told = true;
        }
        if Instant::now() >= deadline {
            return Err(lock_timeout(dir, timeout));
        }
        std::thread::sleep(LOCK_POLL);
    }
}

/// One non-blocking try at the directory's lock. The lock is on the directory itself (no
/// lock file to leave behind); as `down` may remove the directory while another caller waits,
/// the lock counts only if the path still names the directory that was locked.
fn try_lock(dir: &Path) -> Result<Attempt> {
    let file = match File::open(dir) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Attempt::Moved),
        Err(e) => return Err(Error::io(dir)(e)),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Attempt::Busy),
        Err(TryLockError::Error(e)) => return Err(Error::io(dir)(e)),
    }
    let locked = file.metadata().map_err(Error::io(dir))?;
    Ok(match fs::metadata(dir) {
        Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => {
            Attempt::Locked(StateDirLock { _dir: file })
        }
        Ok(_) => Attempt::Moved,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Attempt::Moved,
        Err(e) => return Err(Error::io(dir)(e)),
    })
}

fn lock_timeout(dir: &Path, timeout: Duration) -> Error {
    Error::Timeout {
        what: format!(
            "another kube-e2e process to finish starting or stopping the cluster in {}",
            dir.display()
        ),
        seconds: timeout.as_secs(),
        last: "the state directory is still locked".into(),
    }
}

fn is_empty(dir: &Path) -> Result<bool> {
    Ok(fs::read_dir(dir).map_err(Error::io(dir))?.next().is_none())
}

/// `path` made absolute for messages (`--state-dir .` names the directory it means).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// 128 random bits, in hex.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Unique enough without /dev/urandom: the id only tells directories apart.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    crate::assets::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_progress() -> impl FnMut(&str) + Send {
        |_: &str| {}
    }

    #[tokio::test]
    async fn up_marks_a_new_directory_and_adopts_an_empty_one() {
        let base = tempfile::tempdir().unwrap();
        let new = base.path().join("a").join("cluster");
        drop(
            lock_for_up(&new, Duration::from_secs(5), &mut no_progress())
                .await
                .unwrap(),
        );
        let marker = read_marker(&new)
            .unwrap()
            .expect("a new directory is marked");
        assert_eq!(marker.format, MARKER_FORMAT);
        assert_eq!(marker.pid, std::process::id());
        assert_eq!(marker.owner.len(), 32);

        let empty = base.path().join("empty");
        fs::create_dir(&empty).unwrap();
        drop(
            lock_for_up(&empty, Duration::from_secs(5), &mut no_progress())
                .await
                .unwrap(),
        );
        let adopted = read_marker(&empty)
            .unwrap()
            .expect("an empty directory is adopted");
        assert_ne!(adopted.owner, marker.owner, "each directory has its own id");

        drop(
            lock_for_up(&new, Duration::from_secs(5), &mut no_progress())
                .await
                .unwrap(),
        );
        assert_eq!(
            read_marker(&new).unwrap(),
            Some(marker),
            "a marked directory keeps its marker"
        );
    }

    #[tokio::test]
    async fn up_refuses_a_non_empty_directory_without_a_marker_and_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let error = lock_for_up(dir.path(), Duration::from_secs(5), &mut no_progress())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::ForeignStateDir { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(MARKER_FILE), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    }

    #[test]
    fn down_refuses_a_directory_without_a_marker_and_ignores_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = lock_for_down(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(error, Error::UnmarkedStateDir { .. }), "{error}");
        assert!(error.to_string().contains(MARKER_FILE), "{error}");
        let missing = dir.path().join("missing");
        assert!(
            lock_for_down(&missing, Duration::from_secs(5))
                .unwrap()
                .is_none()
        );
        assert!(!missing.exists(), "down creates nothing");
    }

    #[test]
    fn a_damaged_marker_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(marker_path(dir.path()), "{not json").unwrap();
        let error = require_marker(dir.path()).unwrap_err().to_string();
        assert!(error.contains(MARKER_FILE), "{error}");
    }

    #[tokio::test]
    async fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_for_up(dir.path(), Duration::from_secs(5), &mut no_progress())
            .await
            .unwrap();
        let mut lines = Vec::new();
        let error = lock_for_up(dir.path(), Duration::from_millis(300), &mut |l: &str| {
            lines.push(l.to_string())
        })
        .await
        .unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        assert_eq!(
            lines,
            vec![format!(
                "waiting for another kube-e2e process to start the cluster in {}",
                dir.path().display()
            )]
        );
        assert!(matches!(
            lock_for_down(dir.path(), Duration::from_millis(300)),
            Err(Error::Timeout { .. })
        ));
        drop(held);
        assert!(
            lock_for_down(dir.path(), Duration::from_secs(5))
                .unwrap()
                .is_some()
        );
    }
}
