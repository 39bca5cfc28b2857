//! Helpers shared by the integration tests (each binary uses some of them).
#![allow(dead_code)]

use std::path::PathBuf;

/// The private bootstrap directories of process `pid` still on disk.
pub fn socket_dirs(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("multiproc-{pid}-");
    [std::env::temp_dir(), "/tmp".into()]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

extern "C" fn ignore_ctrl_c(_: libc::c_int) {}

/// In a test's child: leads a process group of its own and handles Ctrl-C
/// itself (doing nothing), as a program that stops cleanly on it does.
pub fn lead_a_group_that_handles_ctrl_c() {
    let handler: extern "C" fn(libc::c_int) = ignore_ctrl_c;
    // SAFETY: plain system calls on this process's own state; the handler
    // does nothing.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        assert_eq!(libc::setpgid(0, 0), 0);
    }
}

/// Sends Ctrl-C to the process group `leader` leads, as a terminal would,
/// and sets `signalled` once it has landed.
pub fn ctrl_c_to_the_group_of(leader: u32, signalled: &multiproc::Event) {
    // SAFETY: signals a process group this test started.
    assert_eq!(
        unsafe { libc::killpg(leader as libc::pid_t, libc::SIGINT) },
        0
    );
    // Time for the signal to land, not a speed.
    std::thread::sleep(std::time::Duration::from_millis(100));
    signalled.set();
}

/// Whether the runtime runs on its portable backend (the calls macOS has):
/// on macOS, and on Linux when built with `MULTIPROC_PORTABLE=1`.
pub fn portable() -> bool {
    std::env::var("MULTIPROC_PORTABLE").is_ok_and(|v| v == "1") || !cfg!(target_os = "linux")
}

/// A fresh directory in the temporary directory, tagged with this
/// process's pid, removed with what it holds when dropped (also when the
/// test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("multiproc-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh read-write file in the temporary directory, tagged with this
/// process's pid; the caller removes it.
pub fn temp_file(tag: &str) -> (PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!("multiproc-{tag}-{}", std::process::id()));
    let file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    (path, file)
}

/// Whether process `pid` is running: it exists and is not a zombie waiting
/// for a reaper (which may not be ours).
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rsplit(')')
        .next()
        .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
}

/// Descriptors open in this process, the fewest of a few looks: another
/// thread may hold one for a moment (reading `/proc/loadavg`, say), while a
/// leaked one stays.
pub fn open_fds() -> usize {
    (0..5)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            std::fs::read_dir("/proc/self/fd").unwrap().count()
        })
        .min()
        .unwrap_or_default()
}

/// This process's children that ended and are not yet reaped.
pub fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .count()
}

/// A pool of three workers started by `method`, even beside other threads.
pub fn three_workers(method: multiproc::StartMethod) -> multiproc::PoolBuilder {
    multiproc::Pool::builder()
        .processes(3)
        .start_method(method)
        .fork_with_threads(true)
}
