//! What the system tells about processes, threads and itself: Linux's
//! `/proc`, macOS's `proc_pidinfo`, and `/dev/fd` on the portable backend.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// Whose entry to read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Task {
    ThisProcess,
    /// Linux's own: elsewhere a thread has no entry of its own.
    #[cfg(not(portable))]
    ThisThread,
    /// Any process, or thread, by id.
    Id(u32),
}

/// What [`stat`] tells of a process or thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// When it started, in clock ticks since boot, truncated to 32 bits:
    /// with its id, it names one process for the life of the system.
    pub(crate) started: u32,
    /// Whether it has ended and waits to be reaped (a zombie), or is going.
    pub(crate) ended: bool,
    /// Whether, though its main thread has ended (a zombie), other threads
    /// of the process still run: the process has not ended then.
    pub(crate) other_threads: bool,
}

/// The start time and state of `task`; `None` if it is not to be seen
/// (gone, hidden, or no `/proc` mounted).
#[cfg(target_os = "linux")]
pub(crate) fn stat(task: Task) -> Option<Stat> {
    let text = match task {
        Task::ThisProcess => std::fs::read_to_string("/proc/self/stat"),
        #[cfg(not(portable))]
        Task::ThisThread => std::fs::read_to_string("/proc/thread-self/stat"),
        Task::Id(id) => std::fs::read_to_string(format!("/proc/{id}/stat")),
    }
    .ok()?;
    // The name (field 2) is in parentheses and may hold anything, ")" too.
    // From the state (field 3) on: the threads are field 20, the start 22.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 1..)?.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let threads = fields.get(17)?.parse::<u64>().ok()?;
    let started = fields.get(19)?.parse::<u64>().ok()?;
    Some(Stat {
        started: started as u32,
        ended: matches!(state, 'Z' | 'X'),
        other_threads: state == 'Z' && threads > 1,
    })
}

/// The start time and state of `task`; `None` if it is not to be seen (gone,
/// or another user's).
#[cfg(target_os = "macos")]
pub(crate) fn stat(task: Task) -> Option<Stat> {
    let pid = match task {
        Task::ThisProcess => std::process::id(),
        Task::Id(id) => id,
    };
    // Asked with a nonzero argument, the system shows zombies too.
    let info: libc::proc_bsdinfo = pid_info(pid, libc::PROC_PIDTBSDINFO, 1)?;
    // In hundredths of a second, as Linux's clock ticks usually are.
    let started = info.pbi_start_tvsec * 100 + info.pbi_start_tvusec / 10_000;
    Some(Stat {
        started: started as u32,
        ended: info.pbi_status == libc::SZOMB,
        other_threads: false,
    })
}

/// What `proc_pidinfo` tells of process `pid` under `flavor` and `arg`.
#[cfg(target_os = "macos")]
fn pid_info<T>(pid: u32, flavor: i32, arg: u64) -> Option<T> {
    let size = i32::try_from(std::mem::size_of::<T>()).ok()?;
    let mut info = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: the system writes at most `size` bytes into `info`, and says
    // how many; a whole `T` of plain integers is then initialized.
    unsafe {
        let written = libc::proc_pidinfo(
            i32::try_from(pid).ok()?,
            flavor,
            arg,
            info.as_mut_ptr().cast(),
            size,
        );
        (written == size).then(|| info.assume_init())
    }
}

/// The threads of this process, the calling one included, if known.
#[cfg(target_os = "linux")]
pub(crate) fn threads() -> Option<usize> {
    // Linux counts them in the links of the task directory, two more than
    // the threads: one call, where listing them takes three. A kernel that
    // does not is seen to count none, and the directory is listed instead.
    match rustix::fs::stat(c"/proc/self/task") {
        Ok(stat) if stat.st_nlink > 2 => Some(stat.st_nlink as usize - 2),
        _ => {
            let mut threads = 0;
            for_each_entry(c"/proc/self/task", |_| threads += 1);
            (threads > 0).then_some(threads)
        }
    }
}

/// The threads of this process, the calling one included, if known.
#[cfg(target_os = "macos")]
pub(crate) fn threads() -> Option<usize> {
    let info: libc::proc_taskinfo = pid_info(std::process::id(), libc::PROC_PIDTASKINFO, 0)?;
    usize::try_from(info.pti_threadnum).ok()
}

/// The descriptors open in this process, and the listing's own, closed by
/// the time this returns.
pub(crate) fn open_fds() -> Vec<RawFd> {
    let mut open = Vec::new();
    for_each_entry(FD_DIRECTORY, |name| {
        if let Some(fd) = name.to_str().ok().and_then(|n| n.parse::<RawFd>().ok()) {
            open.push(fd);
        }
    });
    open
}

/// The directory that lists this process's descriptors.
#[cfg(not(portable))]
const FD_DIRECTORY: &CStr = c"/proc/self/fd";
#[cfg(portable)]
const FD_DIRECTORY: &CStr = c"/dev/fd";

/// Calls `f` with the name of each entry of the directory at `path`, `.` and
/// `..` excepted. On Linux the entries are read into a buffer on the stack:
/// `read_dir`'s 32 KiB on the heap cost a forked child (whose pages are all
/// copy-on-write) several page faults.
fn for_each_entry(path: &CStr, mut f: impl FnMut(&CStr)) {
    use rustix::fs::{Mode, OFlags};
    let Ok(dir) = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let mut each = |name: &CStr| {
        if name != c"." && name != c".." {
            f(name);
        }
    };
    #[cfg(target_os = "linux")]
    {
        let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
        let mut entries = rustix::fs::RawDir::new(&dir, &mut buffer);
        while let Some(Ok(entry)) = entries.next() {
            each(entry.file_name());
        }
    }
    #[cfg(target_os = "macos")]
    if let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) {
        while let Some(Ok(entry)) = entries.next() {
            each(entry.file_name());
        }
    }
}

/// The threads of the whole system that are ready to run now, if known:
/// never on macOS, which tells only load averages.
#[cfg(target_os = "macos")]
pub(crate) fn runnable_threads() -> Option<usize> {
    None
}

/// The threads of the whole system that are ready to run now, if known.
#[cfg(target_os = "linux")]
pub(crate) fn runnable_threads() -> Option<usize> {
    // "0.52 0.58 0.59 3/467 12345": the fourth field is runnable/total.
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .nth(3)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// The network namespace this process is in (as `net:[4026531840]`), if
/// the system tells: processes in different ones may share a kernel and
/// its files, yet not be on the same machine as far as the network goes.
#[cfg(all(feature = "mpi", target_os = "linux"))]
pub(crate) fn net_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/net")
        .ok()?
        .into_os_string()
        .into_string()
        .ok()
}

/// The network namespace this process is in: macOS has none.
#[cfg(all(feature = "mpi", target_os = "macos"))]
pub(crate) fn net_namespace() -> Option<String> {
    None
}

/// A path that names this process's own executable image, even if its file
/// has been replaced or removed since it started.
#[cfg(target_os = "linux")]
pub(crate) fn this_executable() -> std::io::Result<std::path::PathBuf> {
    Ok("/proc/self/exe".into())
}

/// The path this process's executable was started from: macOS has no name
/// for the image itself, so a file replaced since is not the one started.
#[cfg(target_os = "macos")]
pub(crate) fn this_executable() -> std::io::Result<std::path::PathBuf> {
    std::env::current_exe()
}
