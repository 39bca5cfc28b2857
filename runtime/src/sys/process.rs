//! Processes and threads: ids, signals, forking, waiting, and the hooks
//! the C library runs around a fork and at exit.

use std::os::fd::RawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::io::Errno;
use rustix::process::{WaitId, WaitIdOptions, WaitOptions};
pub(crate) use rustix::process::{Pid, Signal};

/// The calling thread's id, unique among the system's live threads, and a
/// process id to look it up by.
#[cfg(target_os = "linux")]
pub(crate) fn thread_id() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get().unsigned_abs()
}

/// This process's id, asked of the system: after [`fork_sibling`], which
/// bypasses the C library, a copy it cached could be the forker's.
pub(crate) fn own_id() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get().unsigned_abs()
}

/// Whether the calling thread is the process's main (first) thread.
pub(crate) fn is_main_thread() -> bool {
    #[cfg(target_os = "linux")]
    return thread_id() == std::process::id();
    // SAFETY: a plain query.
    #[cfg(target_os = "macos")]
    return unsafe { libc::pthread_main_np() } == 1;
}

/// Whether a process can have the system kill it when its parent ends
/// ([`die_with_parent`]): Linux's parent-death signal. Elsewhere a child
/// watches its parent's end of a connection instead.
pub(crate) const PARENT_DEATH_SIGNAL: bool = cfg!(not(portable));

/// Whether this process can fork a child of its own parent, set up as the
/// C library's fork sets up a child ([`fork_sibling`]): Linux's
/// `clone(CLONE_PARENT)`, with glibc on x86-64 or aarch64, where the kernel
/// tells where glibc keeps a thread's id (`PR_GET_TID_ADDRESS`, which needs
/// a kernel built with `CONFIG_CHECKPOINT_RESTORE`, as distributions' are).
pub(crate) fn can_fork_siblings() -> bool {
    #[cfg(portable)]
    return false;
    #[cfg(not(portable))]
    {
        static CAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *CAN.get_or_init(|| {
            cfg!(all(
                target_env = "gnu",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )) && ThreadRecord::of_this_thread().is_some()
        })
    }
}

/// The id of this process's parent; `None` if it has none to be seen
/// (its parent lives in another pid namespace).
#[cfg(any(not(portable), target_os = "macos"))]
pub(crate) fn parent_id() -> Option<u32> {
    rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get().unsigned_abs())
}

/// The user this process acts as.
pub(crate) fn user_id() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `id` as a process to signal or wait for; `None` if no process can have it.
pub(crate) fn pid(id: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(id).ok()?)
}

/// Sends `signal` to process `pid`.
pub(crate) fn kill(pid: Pid, signal: Signal) -> std::io::Result<()> {
    Ok(rustix::process::kill_process(pid, signal)?)
}

/// Kills this process at once, running nothing more.
pub(crate) fn kill_self() -> ! {
    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::KILL);
    // A process may not be able to signal itself (a seccomp filter).
    exit_now(137)
}

/// Stops this process until it is sent `SIGCONT` (by a debugger, or `kill -CONT`).
pub(crate) fn stop_self() {
    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
}

/// Whether process `pid` exists (alive, or ended but not reaped), even
/// if it is another user's and may not be signalled.
pub(crate) fn exists(pid: Pid) -> bool {
    rustix::process::test_kill_process(pid) != Err(Errno::SRCH)
}

/// Waits for the child `pid` to end and reaps it. `None`: it ended, but the
/// system reaped it and its status is lost, as happens when this program
/// ignores SIGCHLD (the wait then lasts until the end and says `ECHILD`).
pub(crate) fn wait(pid: Pid) -> std::io::Result<Option<ExitStatus>> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(Some(ExitStatus::from_raw(status.as_raw()))),
            Ok(None) | Err(Errno::INTR) => {}
            Err(Errno::CHILD) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// How the child `pid` ended, if it has, without reaping it. `Err` if it is
/// no child of ours to wait for (reaped already, by us or by the system).
pub(crate) fn peek(pid: Pid) -> std::io::Result<Option<ExitStatus>> {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    // Asked only for ends (`EXITED`), the system reports an exit or a kill.
    Ok(rustix::process::waitid(WaitId::Pid(pid), options)?.and_then(|status| {
        match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => Some(ExitStatus::from_raw((code & 0xff) << 8)),
            (None, Some(signal)) => Some(ExitStatus::from_raw(signal & 0x7f)),
            (None, None) => None,
        }
    }))
}

/// Where a fork left the calling thread.
pub(crate) enum Forked {
    /// In the new child, the only thread there.
    Child,
    /// In the parent, which has a new child.
    Parent(u32),
}

/// Forks this process, running the C library's fork handlers.
///
/// # Safety
///
/// The child must do only what is safe with the other threads of the
/// parent gone (and the locks they held held for ever), and leave with
/// [`exit_now`], never returning into frames it shares with its parent.
pub(crate) unsafe fn fork() -> std::io::Result<Forked> {
    // SAFETY: the caller keeps the child's promises.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid.unsigned_abs())),
    }
}

/// Forks this process as [`fork`] does, but makes the child this process's
/// sibling: a child of its parent, which reaps it. Runs no fork handlers.
/// The kernel is pointed at the same two places of the child's memory as
/// glibc's fork points it at ([`ThreadRecord`]), so that the C library's
/// record of the child's thread holds the child's own id (which glibc's
/// `raise`, and its robust and priority-inheriting mutexes, rely on).
/// Refused where that cannot be done ([`can_fork_siblings`]).
///
/// # Safety
///
/// As for [`fork`]; and this process must be single-threaded.
pub(crate) unsafe fn fork_sibling() -> std::io::Result<Forked> {
    #[cfg(portable)]
    return Err(std::io::ErrorKind::Unsupported.into());
    #[cfg(not(portable))]
    {
        let record = ThreadRecord::of_this_thread();
        let Some(record) = record.filter(|_| can_fork_siblings()) else {
            return Err(std::io::ErrorKind::Unsupported.into());
        };
        // SAFETY: a clone without a new stack behaves like fork; the caller
        // keeps the child's promises.
        match unsafe { clone_parent(record.id_word) } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                // SAFETY: this process's copy of the forker's record, at the
                // same address, and its only thread.
                unsafe { record.take_in_child() };
                Ok(Forked::Child)
            }
            pid => Ok(Forked::Parent(pid as u32)),
        }
    }
}

/// Where glibc keeps the calling thread's id and its list of robust mutexes,
/// as the kernel knows them: glibc's fork has the kernel write the child's
/// id into the first (and clear it when the child ends), and registers the
/// second, emptied, in the child (if the thread has one: glibc may register
/// it only on first use). Only glibc's: musl gives the kernel the address
/// of a lock of its own, and caches the thread id elsewhere.
#[cfg(not(portable))]
struct ThreadRecord {
    id_word: *mut libc::c_int,
    /// The list's head, if the kernel has one of the size it defines.
    robust: Option<*mut RobustListHead>,
}

/// The head of a thread's robust-mutex list, as `linux/futex.h` defines it.
#[cfg(not(portable))]
#[repr(C)]
struct RobustListHead {
    next: *mut libc::c_void,
    futex_offset: libc::c_long,
    list_op_pending: *mut libc::c_void,
}

#[cfg(not(portable))]
impl ThreadRecord {
    fn of_this_thread() -> Option<ThreadRecord> {
        let mut id_word: *mut libc::c_int = std::ptr::null_mut();
        // SAFETY: the kernel writes one pointer to `id_word`.
        let told = unsafe { libc::prctl(libc::PR_GET_TID_ADDRESS, &mut id_word) } == 0;
        if !told || id_word.is_null() {
            return None;
        }
        let (mut head, mut len) = (std::ptr::null_mut::<RobustListHead>(), 0usize);
        // SAFETY: the kernel writes the calling thread's list head and its size.
        let listed = unsafe { libc::syscall(libc::SYS_get_robust_list, 0, &mut head, &mut len) };
        let robust = (listed == 0 && !head.is_null() && len == size_of::<RobustListHead>())
            .then_some(head);
        Some(ThreadRecord { id_word, robust })
    }

    /// In the child: empties and registers its copy of the robust list.
    ///
    /// # Safety
    ///
    /// In a child just forked with this record, single-threaded.
    unsafe fn take_in_child(self) {
        let Some(head) = self.robust else {
            return;
        };
        // SAFETY: the head lives in this thread's record, which nothing else
        // touches while this process has no other thread; an empty list
        // points at its own head, as glibc's fork leaves it.
        unsafe {
            (*head).next = head.cast();
            (*head).list_op_pending = std::ptr::null_mut();
            libc::syscall(libc::SYS_set_robust_list, head, size_of::<RobustListHead>());
        }
    }
}

/// `clone(CLONE_PARENT)`, with the child's id written to `id_word`, and
/// cleared there when it ends.
///
/// # Safety
///
/// As for [`fork_sibling`], on a machine [`can_fork_siblings`] allows.
#[cfg(not(portable))]
unsafe fn clone_parent(id_word: *mut libc::c_int) -> libc::c_long {
    let flags = libc::CLONE_PARENT
        | libc::CLONE_CHILD_SETTID
        | libc::CLONE_CHILD_CLEARTID
        | libc::SIGCHLD;
    let stack = std::ptr::null_mut::<libc::c_void>();
    let parent_id = std::ptr::null_mut::<libc::c_int>();
    // x86-64 takes the id's address before the (unused) thread pointer;
    // aarch64, the only other machine allowed, after it.
    // SAFETY: the caller keeps the child's promises.
    #[cfg(target_arch = "x86_64")]
    return unsafe { libc::syscall(libc::SYS_clone, flags, stack, parent_id, id_word, 0usize) };
    // SAFETY: as above.
    #[cfg(not(target_arch = "x86_64"))]
    return unsafe { libc::syscall(libc::SYS_clone, flags, stack, parent_id, 0usize, id_word) };
}

/// Has the system kill this (just forked) process when the thread of its
/// parent `parent` that forked it ends; `false` if it could not (always,
/// where the system cannot: [`PARENT_DEATH_SIGNAL`]), or if `parent` has
/// ended already.
pub(crate) fn die_with_parent(parent: u32) -> bool {
    #[cfg(portable)]
    return {
        let _ = parent;
        false
    };
    // SAFETY: a plain system call with no memory arguments.
    #[cfg(not(portable))]
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == 0;
    #[cfg(not(portable))]
    return set && parent_id() == Some(parent);
}

/// Blocks until process `parent`, this process's parent, has ended, and
/// says `true`; or says `false` at once where a lifeline can watch its
/// parent's end of a connection for a hang-up instead (Linux). macOS's
/// `poll` reports a hang-up only beside other events, so there the parent
/// is watched as a process (`kqueue`), or, should that fail, looked for
/// every 100 ms.
pub(crate) fn wait_for_parent(parent: u32) -> bool {
    #[cfg(target_os = "macos")]
    {
        // SAFETY: a new queue, one change read from a live value, one event
        // written into a live value; the queue is closed after use.
        let watched = unsafe {
            let queue = libc::kqueue();
            let mut change: libc::kevent = std::mem::zeroed();
            change.ident = parent as usize;
            change.filter = libc::EVFILT_PROC;
            change.flags = libc::EV_ADD | libc::EV_ONESHOT;
            change.fflags = libc::NOTE_EXIT;
            let added = queue >= 0
                && libc::kevent(queue, &change, 1, std::ptr::null_mut(), 0, std::ptr::null()) == 0;
            // Registered while it is still the parent: its exit is then seen.
            if added && parent_id() == Some(parent) {
                let mut event: libc::kevent = std::mem::zeroed();
                while libc::kevent(queue, std::ptr::null(), 0, &mut event, 1, std::ptr::null())
                    < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {}
            }
            if queue >= 0 {
                libc::close(queue);
            }
            added
        };
        while !watched && parent_id() == Some(parent) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        true
    }
    #[cfg(not(target_os = "macos"))]
    {
        let _ = parent;
        false
    }
}

/// Ends this process at once with `code`, running no exit handler and
/// flushing nothing.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Whether `fd` is open and marked close-on-exec.
pub(crate) fn closes_on_exec(fd: RawFd) -> bool {
    // SAFETY: reads a descriptor's flags; a closed one gives an error.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags >= 0 && flags & libc::FD_CLOEXEC != 0
}

/// Makes `target` (such as 1, stdout) refer to what `fd` refers to, and closes `fd`.
pub(crate) fn replace_fd(fd: std::os::fd::OwnedFd, target: RawFd) -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, IntoRawFd};
    if fd.as_raw_fd() == target {
        // Already there (where `target` was closed when `fd` was opened):
        // kept open, and left to an exec as `dup2` would leave it.
        let fd = fd.into_raw_fd();
        // SAFETY: sets the flags of a descriptor this process owns.
        return match unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        };
    }
    // SAFETY: `dup2` closes `target` and makes it a copy of `fd`, which is
    // open; nothing in this process owns `target` as an `OwnedFd`.
    match unsafe { libc::dup2(fd.as_raw_fd(), target) } {
        -1 => Err(std::io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Sets (or, with `None`, removes) the environment variable `key`, through
/// the C library alone: in a child forked from a threaded parent, the lock
/// `std::env` takes may be held for ever by a thread that is not there.
///
/// # Safety
///
/// No other thread of this process may read or write the environment.
pub(crate) unsafe fn set_env(key: &[u8], value: Option<&[u8]>) -> std::io::Result<()> {
    let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let key = std::ffi::CString::new(key).map_err(invalid)?;
    // SAFETY: NUL-terminated strings; the caller keeps other threads away.
    let done = unsafe {
        match value {
            Some(value) => {
                let value = std::ffi::CString::new(value).map_err(invalid)?;
                libc::setenv(key.as_ptr(), value.as_ptr(), 1)
            }
            None => libc::unsetenv(key.as_ptr()),
        }
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// The environment variable `key`, read through the C library alone, as
/// [`set_env`] writes it.
pub(crate) fn env_var(key: &std::ffi::CStr) -> Option<Vec<u8>> {
    // SAFETY: `getenv` takes no lock in glibc; the value is copied at once,
    // and this process changes its environment only before its work starts.
    unsafe {
        let value = libc::getenv(key.as_ptr());
        (!value.is_null()).then(|| std::ffi::CStr::from_ptr(value).to_bytes().to_vec())
    }
}

/// Removes every environment variable, as [`set_env`] does one.
///
/// # Safety
///
/// As for [`set_env`].
pub(crate) unsafe fn clear_env() {
    // SAFETY: the caller keeps other threads away.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::clearenv()
    };
    // macOS has no `clearenv`: the process's list is pointed at an empty
    // one, which its C library copies before it adds to it, as it does any
    // list it did not make itself.
    // SAFETY: the caller keeps other threads away; the empty list is
    // NUL-terminated and lives for the rest of the process.
    #[cfg(target_os = "macos")]
    unsafe {
        let empty: &'static mut [*mut libc::c_char; 1] =
            Box::leak(Box::new([std::ptr::null_mut()]));
        *libc::_NSGetEnviron() = empty.as_mut_ptr();
    }
}

/// Releases what each of the inherited descriptors `fds` refers to, and
/// leaves `/dev/null` under its number, still close-on-exec. Closing them
/// would free the numbers: memory a forked child copied from its parent may
/// still own one (a `File` in a static, say), and the next descriptor opened
/// would get it, so that owner would read, write or close a stranger's file.
/// Only system calls: fit for a child forked from a threaded parent.
///
/// # Safety
///
/// Nothing in this process may rely on what `fds` refer to now.
pub(crate) unsafe fn release_inherited(fds: &[RawFd]) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let Some((&first, rest)) = fds.split_first() else {
        return;
    };
    let stand_in = match open_null() {
        Some(null) => null,
        None => {
            // Out of descriptors (the parent's table was full): the first
            // number is freed, and /dev/null opened into it, the lowest free.
            // SAFETY: the caller no longer relies on what `first` refers to.
            unsafe { libc::close(first) };
            match open_null() {
                Some(null) => null,
                // Then the others are closed, as they once all were.
                None => {
                    for &fd in rest {
                        // SAFETY: as above.
                        unsafe { libc::close(fd) };
                    }
                    return;
                }
            }
        }
    };
    for &fd in fds.iter().filter(|&&fd| fd != stand_in.as_raw_fd()) {
        // SAFETY: `dup2` replaces `fd` in one step, so its number is never
        // free; the caller no longer relies on what it referred to.
        unsafe {
            if libc::dup2(stand_in.as_raw_fd(), fd) == fd {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    // The stand-in itself stays where it took an inherited number.
    if fds.contains(&stand_in.as_raw_fd()) {
        std::mem::forget(stand_in);
    }

    /// `/dev/null`, close-on-exec; without it, the read end of a pipe with
    /// no writer, which reads as the end of a stream and refuses writes.
    fn open_null() -> Option<OwnedFd> {
        use rustix::fs::{Mode, OFlags};
        let null = rustix::fs::open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty());
        null.ok().or_else(|| {
            let mut ends = [0; 2];
            // SAFETY: `pipe` fills `ends` with two new descriptors, owned here
            // from then on.
            if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
                return None;
            }
            // SAFETY: as above.
            let (read, write) = unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
            drop(write);
            // SAFETY: sets the flags of a descriptor owned here.
            unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
            Some(read)
        })
    }
}

/// Moves this process into a session and process group of its own, out of
/// reach of the signals sent to its parent's group; `false` if it could
/// not (it leads a group already).
pub(crate) fn leave_process_group() -> bool {
    rustix::process::setsid().is_ok()
}

/// The signals a process can be told to ignore.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ignorable {
    Interrupt,
    Terminate,
    HangUp,
    BrokenPipe,
}

/// What a process does on a signal, as [`ignore`] found it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Disposition(libc::sighandler_t);

impl Ignorable {
    fn number(self) -> libc::c_int {
        match self {
            Ignorable::Interrupt => libc::SIGINT,
            Ignorable::Terminate => libc::SIGTERM,
            Ignorable::HangUp => libc::SIGHUP,
            Ignorable::BrokenPipe => libc::SIGPIPE,
        }
    }
}

/// Opens `/dev/null` as each of the standard streams (0, 1, 2) that is
/// closed, as Rust's runtime does before `main`. Until then a new socket
/// could take the number, and whatever is printed would go into it.
pub(crate) fn open_closed_std_streams() {
    for fd in 0..=2 {
        // SAFETY: reads a descriptor's flags; a closed one gives an error.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            use rustix::fs::{Mode, OFlags};
            // The lowest free number, which is `fd`: the lower ones are open.
            if let Ok(null) = rustix::fs::open(c"/dev/null", OFlags::RDWR, Mode::empty()) {
                std::mem::forget(null);
            }
        }
    }
}

/// Has this process ignore `signal` from now on; what it did before.
pub(crate) fn ignore(signal: Ignorable) -> Disposition {
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    Disposition(unsafe { libc::signal(signal.number(), libc::SIG_IGN) })
}

/// Has this process do on `signal` what it did before [`ignore`].
pub(crate) fn restore(signal: Ignorable, before: Disposition) {
    // SAFETY: `before` was this process's own disposition (a handler of this
    // executable, or a default), so it is valid here, or in a fork of it.
    unsafe { libc::signal(signal.number(), before.0) };
}

/// Runs `f` when the process exits through `exit` (or returning from `main`).
#[cfg(any(portable, feature = "mpi"))]
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: `f` is a plain function; the C library calls it once, at exit.
    unsafe { libc::atexit(f) };
}

/// Runs `prepare` before every `fork()` of this process, in the forking
/// thread, and `parent` or `child` after it, in that thread of each process.
pub(crate) fn at_fork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    // SAFETY: plain functions; the caller makes them safe to run around a
    // fork (the child handler runs where only the forking thread exists).
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

/// Fills `bytes` with random bytes from the system.
pub(crate) fn random(bytes: &mut [u8]) -> std::io::Result<()> {
    getrandom::fill(bytes).map_err(std::io::Error::from)
}

/// The conventional name of a signal number, such as `SIGKILL` for 9.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGSYS => "SIGSYS",
        _ => "unknown signal",
    }
}

/// The lowest and highest address where a fault means that the thread
/// that called [`report_stack_overflow`] overflowed its stack, and the
/// message to print then.
static GUARD: std::sync::OnceLock<(usize, usize, Box<[u8]>)> = std::sync::OnceLock::new();

/// Has a stack overflow of the calling thread print `message` and abort,
/// as Rust's runtime has one of `main`'s thread do: a child diverted before
/// `main` never had that runtime start, and would die of a bare `SIGSEGV`.
/// For the one thread that calls it, once.
pub(crate) fn report_stack_overflow(message: String) {
    // The kernel keeps a gap below a growing stack (256 pages by default):
    // a fault in it, or just below, is an overflow.
    const GAP: usize = 2 << 20;
    let Some((low, _)) = this_threads_stack() else {
        return;
    };
    // SAFETY: a plain query.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    if GUARD
        .set((low.saturating_sub(GAP), low + page, message.into_bytes().into()))
        .is_err()
    {
        return;
    }
    // SAFETY: a stack for signal handlers, mapped for the life of the process.
    unsafe {
        let size = libc::SIGSTKSZ.max(64 << 10);
        let stack = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if stack == libc::MAP_FAILED {
            return;
        }
        let alt = libc::stack_t {
            ss_sp: stack,
            ss_flags: 0,
            ss_size: size,
        };
        libc::sigaltstack(&alt, std::ptr::null_mut());
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The calling thread's stack: its lowest and highest address.
#[cfg(target_os = "linux")]
fn this_threads_stack() -> Option<(usize, usize)> {
    // SAFETY: reads the attributes of the calling thread into `attr`, which
    // is destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let (mut low, mut size) = (std::ptr::null_mut(), 0);
        let got = libc::pthread_attr_getstack(&attr, &mut low, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0).then_some((low as usize, low as usize + size))
    }
}

/// The calling thread's stack: its lowest and highest address.
#[cfg(target_os = "macos")]
fn this_threads_stack() -> Option<(usize, usize)> {
    // SAFETY: plain queries about the calling thread; macOS gives the top.
    unsafe {
        let thread = libc::pthread_self();
        let high = libc::pthread_get_stackaddr_np(thread) as usize;
        let size = libc::pthread_get_stacksize_np(thread);
        Some((high.checked_sub(size)?, high))
    }
}

extern "C" fn on_fault(signal: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the system passes the fault's information; reading the
    // guard and writing a prepared message are async-signal-safe.
    unsafe {
        let address = (*info).si_addr() as usize;
        if let Some((low, high, message)) = GUARD.get()
            && (*low..*high).contains(&address)
        {
            libc::write(2, message.as_ptr().cast(), message.len());
            libc::abort();
        }
        // Another fault: the default action, when the access is retried.
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}
