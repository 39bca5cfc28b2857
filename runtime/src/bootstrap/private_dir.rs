//! This process's private socket directory, where sockets are files
//! (macOS, the portable backend; on Linux they are names in the abstract
//! namespace, which nothing on disk backs).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::env;

use crate::sys::process;

/// This process's private socket directory: created on first use with mode
/// 0700, and removed when the process exits, as Python's `pymp-*` is. A
/// forked child, which inherits its parent's entry, makes its own.
static DIR: Mutex<Option<(PathBuf, u32)>> = Mutex::new(None);

fn lock_dir() -> std::sync::MutexGuard<'static, Option<(PathBuf, u32)>> {
    DIR.lock().unwrap_or_else(|e| e.into_inner())
}

// Held across a fork; the child keeps its parent's directory, whose sockets
// it may still use, and removes only its own.
crate::forking::fork_hook!(
    DIR_FORK,
    order: 30,
    holds: std::sync::MutexGuard<'static, Option<(PathBuf, u32)>> = lock_dir(),
    forget: || {},
);

pub(crate) fn get() -> std::io::Result<PathBuf> {
    let mut slot = lock_dir();
    let pid = std::process::id();
    if let Some((dir, owner)) = &*slot
        && *owner == pid
    {
        return Ok(dir.clone());
    }
    let mut base = env::temp_dir();
    // A Unix socket path must fit in about 100 bytes.
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    remove_dead_processes_dirs(&base);
    let dir = base.join(format!("multiproc-{pid}-{}", &super::random_token()?[..12]));
    fs::DirBuilder::new().mode(0o700).create(&dir)?;
    if slot.is_none() {
        extern "C" fn remove_at_exit() {
            remove();
        }
        process::at_exit(remove_at_exit);
    }
    *slot = Some((dir.clone(), pid));
    Ok(dir)
}

/// Removes the private directories in `base` that this user's processes
/// left behind when they were killed (SIGKILL runs no exit handler), so that
/// they never pile up.
fn remove_dead_processes_dirs(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let me = process::user_id();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("multiproc-"))
            .and_then(|rest| rest.split_once('-'))
            .filter(|(_, token)| token.len() == 12)
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && crate::shm::process_gone(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes this process's private directory, if it made one; called at exit,
/// and by a forked child, which leaves with `_exit`.
pub(crate) fn remove() {
    let Ok(slot) = DIR.try_lock() else {
        return;
    };
    if let Some((dir, owner)) = &*slot
        && *owner == std::process::id()
    {
        let _ = fs::remove_dir_all(dir);
    }
}
